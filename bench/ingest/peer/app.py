"""The seed-style peer for bench/ingest (issue 16): what the seed story's API did, as a baseline.

Flask under gunicorn (2 sync workers), each play checked with jsonschema, each play its own Kafka
message through confluent-kafka with acks=all (idempotent), the request answered once every message
is delivered. No API keys (the bench sends none): it does less than Playlog's route, not more.
Run: KAFKA_BROKERS=... KAFKA_TOPIC=... gunicorn -w 2 -b 127.0.0.1:PORT app:app (bench/ingest/bench.mjs does).
"""
import json
import os

from confluent_kafka import Producer
from flask import Flask, jsonify, request
from jsonschema import Draft202012Validator

PLAY = {
    "type": "object",
    "required": ["logType", "userId", "country", "trackId", "releaseId", "formatId", "dateTimePlayed", "totalTimePlayed"],
    "properties": {
        "logType": {"enum": ["subscription", "catalogue"]},
        "userId": {"type": "string", "minLength": 1, "maxLength": 255},
        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "trackId": {"type": "integer", "minimum": 0},
        "releaseId": {"type": "integer", "minimum": 0},
        "formatId": {"type": "integer", "minimum": 0},
        "playMode": {"enum": ["online", "offline", "online-cached", None]},
        "endReason": {"enum": ["naturalEnd", "userSkipped", "other", None]},
        "dateTimePlayed": {"type": "string", "format": "date-time"},
        "totalTimePlayed": {"type": "integer", "minimum": 0},
        "userAgent": {"type": ["string", "null"], "maxLength": 256},
        "playId": {"type": ["string", "null"], "maxLength": 128},
    },
}
validator = Draft202012Validator(PLAY)
producer = Producer(
    {
        "bootstrap.servers": os.environ["KAFKA_BROKERS"],
        # Over mutual TLS as the stack's ingest principal, as Playlog's ingest connects (bench/ingest/bench.mjs).
        **{k.removeprefix("KAFKA_").lower().replace("_", "."): v for k, v in os.environ.items() if k.startswith("KAFKA_SSL_") or k == "KAFKA_SECURITY_PROTOCOL"},
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": "lz4",
        "linger.ms": 1,
    }
)
TOPIC = os.environ["KAFKA_TOPIC"]
app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return "ok"


@app.post("/v1/play-logs")
def play_logs():
    body = request.get_json(force=True, silent=True)
    plays = body.get("plays") if isinstance(body, dict) else None
    if not isinstance(plays, list) or not plays:
        return jsonify(error="body must be {\"plays\": [...]}"), 400
    errors, failed = [], []
    accepted = 0
    for i, play in enumerate(plays):
        problem = next(validator.iter_errors(play), None)
        if problem is not None:
            errors.append({"index": i, "message": problem.message})
            continue
        producer.produce(TOPIC, json.dumps(play).encode(), callback=lambda err, _msg: err and failed.append(err))
        accepted += 1
    if producer.flush(10) > 0 or failed:
        return jsonify(error="Kafka did not confirm the write"), 503
    return jsonify(accepted=accepted, rejected=len(errors), errors=errors), (207 if errors else 202)
