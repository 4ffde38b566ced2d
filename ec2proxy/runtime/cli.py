"""The ``ec2proxy`` command: serve, database and credential administration."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import pathlib
import re
import signal
import sys
from typing import Sequence

from aiohttp import web

from ec2proxy import __version__, db, keys
from ec2proxy import config as configuration
from ec2proxy.auth.credentials import LocalCredentialStore
from ec2proxy.frontdoor import actions, listeners
from ec2proxy.frontdoor.app import create_admin_app, create_api_server
from ec2proxy.runtime import embedded, notification_feed, workers
from ec2proxy.runtime.services import open_services
from ec2proxy.state import jobs


def _load(args: argparse.Namespace) -> configuration.Config:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides[("DEFAULT", "data_dir")] = args.data_dir
    for flag, key in (("listen", ("api", "listen")), ("admin_listen", ("admin", "listen")),
                      ("metadata_listen", ("metadata", "listen"))):
        if getattr(args, flag, None) is not None:
            overrides[key] = getattr(args, flag)
    return configuration.load(args.config, overrides)


def _role_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise argparse.ArgumentTypeError(f"not a role name: {value!r}")
    return value


def _endpoint(listen: str) -> str:
    host, port = configuration.split_hostport(listen)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def _start_devcloud(stack: contextlib.AsyncExitStack, config: configuration.Config) -> tuple[str, dict]:
    """Run the dev cloud in this process on a loopback port; answers its URL and seeded accounts."""
    from ec2proxy import devcloud

    notify = None
    if config.devcloud.notify_url:
        exchanges = dict(pair.partition("=")[::2] for pair in config.devcloud.notify_exchanges.split())
        notify = devcloud.notifier.Notifier(config.devcloud.notify_url, exchanges)
    app = devcloud.create_app(config.data_dir / "devcloud", delay=config.devcloud.delay, region=config.api.region,
                              notify=notify)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    host, port = configuration.split_hostport(config.devcloud.listen)
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = runner.addresses[0][1]
    url = f"http://{host}:{bound}"
    store = app[devcloud.STATE].store
    devcloud.write_clouds_yaml(config.data_dir / "devcloud", f"{url}/identity/v3", store, config.api.region)
    return url, devcloud.accounts(store)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _embedded_cloud(stack: contextlib.AsyncExitStack, config: configuration.Config) -> dict | None:
    """With no cloud configured, the dev cloud in this process; its seeded accounts (None: a real cloud)."""
    if not config.embedded:
        return None
    url, accounts = await _start_devcloud(stack, config)
    embedded.use_devcloud(config, url, accounts)
    return accounts


async def _demo_identity(config: configuration.Config, services, accounts: dict | None):
    """The embedded default's demo key and the AWS CLI files for it (None with a real cloud)."""
    if accounts is None or config.auth.credential_source != "local":
        return None
    demo = accounts["demo"]
    identity = await embedded.ensure_demo_credential(
        services.credentials, config.data_dir, demo["project_id"], demo["user_id"])
    embedded.write_aws_files(config.data_dir, identity, config.api.region, _endpoint(config.api.listen))
    return identity


def _announce(config: configuration.Config, identity, workers: int = 1) -> None:
    endpoint = _endpoint(config.api.listen)
    if identity is not None:
        lines = embedded.usage_lines(config.data_dir, identity, config.api.region, endpoint)
        lines.append(f"Embedded dev cloud: {config.openstack.auth_url} "
                     f"(OS_CLIENT_CONFIG_FILE={config.data_dir / 'devcloud' / 'clouds.yaml'}, "
                     "clouds devcloud-demo, devcloud-admin)")
    else:
        lines = [f"ec2proxy: EC2 API at {endpoint} (region {config.api.region}, "
                 f"cloud {config.openstack.auth_url or config.openstack.cloud})"]
    if workers > 1:
        lines.append(f"{workers} workers")
    print("\n".join(lines), flush=True)


async def _listen(stack: contextlib.AsyncExitStack, config: configuration.Config, services,
                  inherited: dict | None) -> None:
    """The API, admin and metadata listeners: on their own sockets, or on a supervisor's."""
    import metadata

    for name, app, listen in (
        ("api", create_api_server(config, services), config.api.listen),
        ("admin", create_admin_app(services), config.admin.listen),
        ("metadata", metadata.create_app(services), config.metadata.listen),
    ):
        if not listen:
            continue
        runner = (web.ServerRunner(app, handle_signals=False) if isinstance(app, web.Server)
                  else web.AppRunner(app, access_log=None, handle_signals=False,
                                     **listeners.handler_options(config.api.header_timeout)))
        await runner.setup()
        assert runner.server is not None  # set up just above
        listeners.cap_connections(runner.server, config.api.max_connections_per_address)
        stack.push_async_callback(listeners.close, runner, services)
        if inherited is not None:
            await web.SockSite(runner, inherited[name]).start()
        else:
            host, port = configuration.split_hostport(listen)
            await web.TCPSite(runner, host, port, reuse_address=True).start()


async def _serve(config: configuration.Config) -> None:
    """One process serving everything (``--workers 1``), or one worker of a supervisor's."""
    stop = _stop_on_signals()
    inherited = workers.inherited()
    async with contextlib.AsyncExitStack() as stack:
        accounts = None
        if inherited is not None:
            embedded.use_running_devcloud(config)  # the supervisor runs it
        else:
            accounts = await _embedded_cloud(stack, config)
        services = await stack.enter_async_context(open_services(config))
        await stack.enter_async_context(jobs.running(services))
        await stack.enter_async_context(notification_feed.running(services))
        identity = await _demo_identity(config, services, accounts)
        await _listen(stack, config, services, inherited)
        if inherited is None:
            _announce(config, identity)
        shared = os.environ.get(workers.METRICS_ENV)
        if shared:
            services.metrics.shared = pathlib.Path(shared)
            stack.callback(services.metrics.write_shared)  # the last counts, once in-flight work is done
            while not stop.is_set():
                services.metrics.write_shared()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        await stop.wait()


async def _supervise(config: configuration.Config, size: int) -> None:
    """``--workers N``: the dev cloud (embedded default) and the listening sockets here, N workers on them."""
    stop = _stop_on_signals()
    async with contextlib.AsyncExitStack() as stack:
        accounts = await _embedded_cloud(stack, config)
        async with open_services(config) as services:
            identity = await _demo_identity(config, services, accounts)
        pool = workers.Pool(config, workers.bind(config), size)
        _announce(config, identity, size)
        await pool.run(stop)


def cmd_devcloud(args: argparse.Namespace) -> int:
    """Run the dev cloud alone, for other OpenStack tools or for several proxy workers."""
    config = _load(args)
    if args.listen:
        config.devcloud.listen = args.listen
    if args.delay is not None:
        config.devcloud.delay = args.delay
    config.make_data_dir()

    async def run() -> None:
        stop = _stop_on_signals()
        async with contextlib.AsyncExitStack() as stack:
            url, _ = await _start_devcloud(stack, config)
            print(f"dev cloud at {url}/identity/v3; OS_CLIENT_CONFIG_FILE="
                  f"{config.data_dir / 'devcloud' / 'clouds.yaml'} (clouds devcloud-demo, devcloud-admin, ...)",
                  flush=True)
            await stop.wait()

    asyncio.run(run())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    config = _load(args)
    if workers.is_worker():  # the supervisor made the data dir and migrated the database
        asyncio.run(_serve(config))
        return 0
    size = workers.count(args.workers)
    actions.load_policy(config)  # a policy file that does not parse stops serve before anything is written
    config.make_data_dir()
    with _data_dir_lock(config.data_dir):
        _upgrade(config)  # once, before any worker starts
        asyncio.run(_serve(config) if size == 1 else _supervise(config, size))
    return 0


@contextlib.contextmanager
def _data_dir_lock(data_dir: pathlib.Path):
    """One serve per data folder, taken before anything in it is written: a second serve would rewrite the
    first one's dev cloud files (clouds.yaml, accounts.json) and AWS CLI files. Held for the process's life (its
    workers inherit it); the kernel drops it when the process ends, however it ends."""
    import fcntl

    handle = open(data_dir / "serve.lock", "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ValueError(f"another ec2proxy serve (pid {holder}) uses the data folder {data_dir}: stop it, "
                             "or give this one another --data-dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def _upgrade(config: configuration.Config) -> None:
    """Migrate, or say in one line why the database cannot be used (unreachable, refused, unknown)."""
    try:
        db.upgrade(config.database.url)
    except Exception as exc:  # noqa: BLE001  any driver's failure to connect: one line, never a traceback
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"[database] url: the database cannot be used: {text[:300]}") from None


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    config = _load(args)
    config.make_data_dir()
    _upgrade(config)
    print(f"database at revision {db.current_revision(config.database.url)}")
    return 0


async def _credentials(args: argparse.Namespace, config: configuration.Config) -> int:
    async with open_services(config) as services:
        store = services.credentials
        if not isinstance(store, LocalCredentialStore):
            print("credentials come from Keystone here ([auth] credential_source = keystone): manage them with "
                  "'openstack ec2 credentials create/list/delete'", file=sys.stderr)
            return 2
        if args.credentials_command == "create":
            identity = await store.create(args.project, args.user, args.access_key, args.secret,
                                          tuple(args.role or ["member"]))
            print(json.dumps({"access_key": identity.access_key, "secret": identity.secret,
                              "project_id": identity.project_id, "user_id": identity.user_id,
                              "roles": list(identity.roles)}))
        elif args.credentials_command == "list":
            for identity in await store.list(args.project):
                print(json.dumps({"access_key": identity.access_key, "project_id": identity.project_id,
                                  "user_id": identity.user_id, "roles": list(identity.roles)}))
        else:
            if not await store.delete(args.access_key):
                print(f"no such access key: {args.access_key}", file=sys.stderr)
                return 1
    return 0


def cmd_credentials(args: argparse.Namespace) -> int:
    config = _load(args)
    config.make_data_dir()
    _upgrade(config)
    return asyncio.run(_credentials(args, config))


async def _operator(args: argparse.Namespace, config: configuration.Config) -> int:
    from ec2proxy.state import maintenance as operator

    async with open_services(config) as services:
        if args.command == "instances":
            record = await operator.instance_record(services, args.instance_id)
            if record is None:
                print(f"ec2proxy: {args.instance_id} is not in this proxy's database", file=sys.stderr)
                return 1
            if args.json:
                print(json.dumps(record, sort_keys=True))
            else:
                for key, value in record.items():
                    print(f"{key:16} {value}")
        elif args.command == "images":
            for record in await operator.stuck_images(services, args.project, remove=args.delete):
                print(json.dumps(record, sort_keys=True) if args.json else
                      f"{record['image_id']} {record['os_id']} {record['status']:9} since {record['since']} "
                      f"{'deleted' if record['deleted'] else ''}")
        elif args.command == "operations":
            for record in await operator.operations(services, state=args.state, resource_id=args.resource_id,
                                                    project_id=args.project, limit=args.limit):
                print(json.dumps(record, sort_keys=True) if args.json else
                      f"{record['created_at']} {record['state']:9} {record['action']:20} "
                      f"{','.join(record['resource_ids'])} {record['error'] or ''}")
        else:
            print(json.dumps(await operator.purge(services)))
    return 0


def _beside_serve(args: argparse.Namespace, needs_cloud: bool) -> configuration.Config:
    """The configuration of a command run next to ``serve``: its database, and its cloud when needed."""
    config = _load(args)
    _upgrade(config)
    if needs_cloud and not embedded.use_running_devcloud(config):
        print("ec2proxy: no cloud configured and no embedded dev cloud files in the data dir; "
              "live state will be missing", file=sys.stderr)
    return config


def cmd_operator(args: argparse.Namespace) -> int:
    return asyncio.run(_operator(args, _beside_serve(args, getattr(args, "needs_cloud", False))))


def cmd_metadata_proxy(args: argparse.Namespace) -> int:
    """Forward one instance's metadata requests with the signed headers Neutron's proxy would add."""
    from ec2proxy.state import maintenance as operator
    from metadata import forwarder

    config = _beside_serve(args, needs_cloud=True)

    async def run() -> int:
        async with open_services(config) as services:
            record = await operator.instance_record(services, args.instance_id)
        if record is None:
            print(f"ec2proxy: {args.instance_id} is not in this proxy's database", file=sys.stderr)
            return 1
        if not record.get("private_ip"):
            print(f"ec2proxy: no address known for {args.instance_id} ({record.get('state_error') or record['state']})",
                  file=sys.stderr)
            return 1
        secret = keys.shared_secret(config.metadata.shared_secret, config.data_dir)
        upstream = args.metadata_url or _endpoint(config.metadata.listen)
        app = forwarder.create_app(upstream.rstrip("/"), secret, record["os_id"], record["project_id"],
                                   record["private_ip"])
        stop = _stop_on_signals()
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        host, port = configuration.split_hostport(args.listen or config.metadata.proxy_listen)
        await web.TCPSite(runner, host, port, reuse_address=True).start()
        bound = runner.addresses[0][1]
        print(f"metadata proxy for {args.instance_id} ({record['os_id']}, {record['private_ip']}) at "
              f"http://{host}:{bound} -> {upstream}", flush=True)
        await stop.wait()
        await runner.cleanup()
        return 0

    return asyncio.run(run())


def cmd_config_sample(args: argparse.Namespace) -> int:
    print(configuration.sample(), end="")
    return 0


def _add_operator_commands(sub, common: argparse.ArgumentParser) -> None:
    """``instances show``, ``images stuck``, ``operations list``: what operators ask of the proxy."""
    instances = sub.add_parser("instances", help="what the proxy knows of an instance")
    instances_sub = instances.add_subparsers(dest="instances_command", required=True)
    show = instances_sub.add_parser("show", parents=[common], help="ec2 id -> Nova server, project, IP, state")
    show.add_argument("instance_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_operator, needs_cloud=True)

    images = sub.add_parser("images", help="images in Glance as the proxy sees them")
    images_sub = images.add_subparsers(dest="images_command", required=True)
    stuck = images_sub.add_parser("stuck", parents=[common],
                                  help="images queued/saving longer than [api] image_stuck_after")
    stuck.add_argument("--project", help="look in this project (default: the proxy's own view)")
    stuck.add_argument("--delete", action="store_true", help="delete them")
    stuck.add_argument("--json", action="store_true")
    stuck.set_defaults(func=cmd_operator, needs_cloud=True)

    operations = sub.add_parser("operations", help="the operations log")
    operations_sub = operations.add_subparsers(dest="operations_command", required=True)
    listing_ops = operations_sub.add_parser("list", parents=[common], help="newest first")
    listing_ops.add_argument("--state", choices=("pending", "succeeded", "failed"))
    listing_ops.add_argument("--resource-id")
    listing_ops.add_argument("--project")
    listing_ops.add_argument("--limit", type=int, default=100)
    listing_ops.add_argument("--json", action="store_true")
    listing_ops.set_defaults(func=cmd_operator)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ec2proxy", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ec2proxy {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="INI configuration file")
    common.add_argument("--data-dir", help="data directory of the embedded default")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the EC2 API")
    serve.add_argument("--listen", help="HOST:PORT of the EC2 API")
    serve.add_argument("--admin-listen", help="HOST:PORT of the admin listener ('' to disable)")
    serve.add_argument("--metadata-listen", help="HOST:PORT of the metadata service ('' to disable)")
    serve.add_argument("--workers", default="1",
                       help="processes serving the same ports (auto: one per core; default 1)")
    serve.set_defaults(func=cmd_serve)

    database = sub.add_parser("db", help="database administration")
    database_sub = database.add_subparsers(dest="db_command", required=True)
    upgrade = database_sub.add_parser("upgrade", parents=[common], help="apply migrations")
    upgrade.set_defaults(func=cmd_db_upgrade)

    credentials = sub.add_parser("credentials", help="access keys of the local credential source")
    credentials_sub = credentials.add_subparsers(dest="credentials_command", required=True)
    create = credentials_sub.add_parser("create", parents=[common])
    create.add_argument("--project", required=True)
    create.add_argument("--user", required=True)
    create.add_argument("--access-key")
    create.add_argument("--secret")
    create.add_argument("--role", action="append", type=_role_name,
                        help="a role the key acts with in its project, as Keystone would grant it: reader, member "
                             "(the default) or admin, or a role policy.yaml names; repeat for several")
    listing = credentials_sub.add_parser("list", parents=[common])
    listing.add_argument("--project")
    delete = credentials_sub.add_parser("delete", parents=[common])
    delete.add_argument("access_key")
    for command in (create, listing, delete):
        command.set_defaults(func=cmd_credentials)

    purge = database_sub.add_parser("purge", parents=[common],
                                    help="forget ClientTokens and operations past [api] client_token_retention")
    purge.set_defaults(func=cmd_operator)

    _add_operator_commands(sub, common)

    devcloud = sub.add_parser("devcloud", parents=[common], help="run the embedded dev cloud alone")
    devcloud.add_argument("--listen", help="HOST:PORT of the dev cloud (default [devcloud] listen)")
    devcloud.add_argument("--delay", type=float, help="seconds each asynchronous transition takes")
    devcloud.set_defaults(func=cmd_devcloud)

    proxy = sub.add_parser("metadata-proxy", parents=[common],
                           help="play Neutron's metadata proxy for one instance on loopback")
    proxy.add_argument("instance_id", help="the i- id whose metadata this listener serves")
    proxy.add_argument("--listen", help="HOST:PORT (default [metadata] proxy_listen; port 0: any)")
    proxy.add_argument("--metadata-url", help="the metadata service (default: [metadata] listen)")
    proxy.set_defaults(func=cmd_metadata_proxy)

    sample = sub.add_parser("config-sample", help="print the documented sample configuration")
    sample.set_defaults(func=cmd_config_sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(os.umask(0o077) | 0o077)  # what this process writes (databases, keys, credentials) is its own
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"ec2proxy: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
