import { readFileSync } from 'node:fs';

/**
 * A Kafka cluster as one principal reaches it: the bootstrap list and librdkafka's client settings for
 * its security (`security.protocol`, `ssl.*`, `sasl.*`; libs/config kafkaClientConfig makes them from the
 * environment). Every client this library makes connects through one, so none can connect anonymously
 * by forgetting a setting.
 */
export interface KafkaCluster {
  brokers: string;
  settings: Record<string, string>;
}

/** librdkafka's properties for a client of `cluster` named `clientId`. */
export function rdkafkaSettings(cluster: KafkaCluster, clientId: string): Record<string, string> {
  return { ...cluster.settings, 'metadata.broker.list': cluster.brokers, 'client.id': clientId };
}

/** The same cluster and principal as @platformatic/kafka's connection options (node:tls takes the PEM files' contents). */
export function platformaticConnection(cluster: KafkaCluster) {
  const s = cluster.settings;
  const protocol = s['security.protocol'] ?? 'plaintext';
  const read = (property: string) => (s[property] ? readFileSync(s[property]) : undefined);
  const tls =
    protocol === 'ssl' || protocol === 'sasl_ssl'
      ? {
          ca: read('ssl.ca.location'),
          cert: read('ssl.certificate.location'),
          key: read('ssl.key.location'),
          passphrase: s['ssl.key.password'],
        }
      : undefined;
  const sasl =
    protocol === 'sasl_ssl'
      ? {
          mechanism: s['sasl.mechanism'] as 'SCRAM-SHA-512' | 'SCRAM-SHA-256',
          username: s['sasl.username']!,
          password: s['sasl.password']!,
        }
      : undefined;
  return { bootstrapBrokers: cluster.brokers.split(','), ...(tls ? { tls } : {}), ...(sasl ? { sasl } : {}) };
}
