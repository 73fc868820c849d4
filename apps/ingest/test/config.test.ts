import t from 'tap';
import { ConfigError } from '@playlog/config';
import { compressionAvailable } from '@playlog/kafka';
import { loadIngestConfig } from '../src/config.js';

t.test('KAFKA_COMPRESSION: zstd by default; a codec this node-rdkafka cannot write is refused at boot, naming the fix', async (t) => {
  t.throws(() => loadIngestConfig({ KAFKA_COMPRESSION: 'brotli' }), ConfigError);
  t.equal(loadIngestConfig({ KAFKA_COMPRESSION: 'lz4' }).kafkaCompression, 'lz4');
  t.equal(loadIngestConfig({ KAFKA_COMPRESSION: 'none' }).kafkaCompression, 'none');
  if (compressionAvailable('zstd')) {
    t.equal(loadIngestConfig({}).kafkaCompression, 'zstd');
  } else {
    t.throws(() => loadIngestConfig({}), /KAFKA_COMPRESSION: zstd is not built into this node-rdkafka .*libzstd-dev/);
  }
});
