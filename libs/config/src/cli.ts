import { parseArgs } from 'node:util';

export interface CliOption {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
}

type Value<T extends CliOption> = T['type'] extends 'boolean' ? boolean : string;
export type CliValues<O extends Record<string, CliOption>> = {
  [K in keyof O]: O[K] extends { default: string | boolean } ? Value<O[K]> : Value<O[K]> | undefined;
};

/**
 * The command line of one of Playlog's programs, parsed strictly: `--help` (or `-h`) prints `usage`
 * and exits 0 before anything else happens (no connection, no work); an unknown flag, a flag without
 * its value, or a stray argument prints what is wrong and the usage's first line, and exits 2.
 */
export function commandLine<const O extends Record<string, CliOption>>(
  name: string,
  usage: string,
  argv: string[],
  options: O,
  allowPositionals = false,
): { values: CliValues<O>; positionals: string[] } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    return usageError(name, usage, (err as Error).message);
  }
  if (parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  delete parsed.values.help;
  return parsed as { values: CliValues<O>; positionals: string[] };
}

/**
 * The end of a command line's run: what is wrong, the usage's first line, where the rest is, exit 2. For
 * checks the parser cannot make. Not the whole usage: the one line that matters would scroll away.
 */
export function usageError(name: string, usage: string, message: string): never {
  console.error(`${name}: ${message}\n${usage.split('\n')[0]!.trim()} …\n(--help prints the whole usage)`);
  process.exit(2);
}
