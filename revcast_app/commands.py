"""The AMQP path of the forecast commands: read the forecast command payloads from a RabbitMQ queue, record each in
audit.commands, and launch the valid ones as `forecast_command_job` runs through Dagster's GraphQL API.

Every message is acknowledged once handled, so nothing is retried forever: a malformed payload is recorded as
`rejected` with its reason, a valid one as `accepted` with its run id, and one Dagster would not launch as
`launch_failed` with the error (send it again once Dagster is up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from revcast.billing import load_pricing
from revcast.billing.commands import (
    COMMAND_JOB,
    CommandError,
    ForecastCommand,
    parse_command,
    record_command,
    run_config,
)
from revcast.settings import settings

Submit = Callable[[ForecastCommand], str]  # launches the job, returns its run id


@dataclass(frozen=True)
class Handled:
    command_id: str
    status: str
    reason: str | None = None
    run_id: str | None = None


def graphql_submit(host: str | None = None, port: int | None = None, timeout_s: int = 30) -> Submit:
    """Launch the job on a Dagster webserver (default REVCAST_DAGSTER_HOST/PORT) through GraphQL."""
    from dagster_graphql import DagsterGraphQLClient

    env = settings()
    client = DagsterGraphQLClient(
        host or env.dagster_host, port_number=port or env.dagster_port, timeout=timeout_s
    )

    def submit(cmd: ForecastCommand) -> str:
        return client.submit_job_execution(COMMAND_JOB, run_config=run_config(cmd))

    return submit


def handle(body: bytes, *, warehouse: str, pricing: Path, submit: Submit, source: str = "amqp") -> Handled:
    """Validate one payload, launch it if valid, and record the outcome in audit.commands."""
    text = body.decode("utf-8", errors="replace")
    try:
        cmd = parse_command(body, load_pricing(pricing))
    except CommandError as exc:
        cid = record_command(warehouse, source=source, payload=text, status="rejected", reason=str(exc))
        return Handled(cid, "rejected", str(exc))
    try:
        run_id = submit(cmd)
    except Exception as exc:  # noqa: BLE001 - recorded, acknowledged, not retried
        reason = f"{type(exc).__name__}: {exc}"
        cid = record_command(
            warehouse, source=source, payload=text, status="launch_failed", reason=reason, cmd=cmd
        )
        return Handled(cid, "launch_failed", reason)
    cid = record_command(warehouse, source=source, payload=text, status="accepted", cmd=cmd, run_id=run_id)
    return Handled(cid, "accepted", run_id=run_id)


def consume(
    *,
    submit: Submit,
    url: str | None = None,
    queue: str | None = None,
    warehouse: str | None = None,
    pricing: Path | None = None,
    max_messages: int | None = None,
    idle_timeout_s: float | None = None,
) -> list[Handled]:
    """Consume the queue (declared durable) until max_messages are handled or it stays idle idle_timeout_s
    (None: forever); each message is handled and then acknowledged."""
    import pika

    env = settings()
    warehouse = warehouse or env.warehouse
    pricing = pricing or Path(env.landing) / "pricing"
    queue = queue or env.command_queue
    connection = pika.BlockingConnection(pika.URLParameters(url or env.amqp_url))
    handled: list[Handled] = []
    try:
        channel = connection.channel()
        channel.queue_declare(queue=queue, durable=True)
        channel.basic_qos(prefetch_count=1)
        for method, _props, body in channel.consume(queue, inactivity_timeout=idle_timeout_s):
            if method is None:  # idle
                break
            try:
                handled.append(handle(body, warehouse=warehouse, pricing=pricing, submit=submit))
            finally:
                channel.basic_ack(method.delivery_tag)
            if max_messages is not None and len(handled) >= max_messages:
                break
        channel.cancel()
    finally:
        connection.close()
    return handled


def publish(payload: str | bytes, *, url: str | None = None, queue: str | None = None) -> None:
    """Send one command to the queue (persistent)."""
    import pika

    env = settings()
    queue = queue or env.command_queue
    connection = pika.BlockingConnection(pika.URLParameters(url or env.amqp_url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue=queue, durable=True)
        body = payload.encode() if isinstance(payload, str) else payload
        channel.basic_publish(
            "", queue, body, pika.BasicProperties(delivery_mode=2, content_type="application/json")
        )
    finally:
        connection.close()
