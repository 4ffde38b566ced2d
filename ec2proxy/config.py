"""Configuration: an INI file, environment overrides, command-line flags, in that order.

Every option is declared once in :data:`OPTIONS` with its default and help;
the sample file ``etc/ec2proxy/ec2proxy.conf.sample`` is generated from it
(``ec2proxy config-sample``) and a test keeps the two equal. An environment
variable ``EC2PROXY_<SECTION>_<OPTION>`` overrides the file.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import pathlib
from typing import Any, Mapping


@dataclasses.dataclass(frozen=True)
class Option:
    section: str
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"EC2PROXY_{self.section}_{self.name}".upper()

    def convert(self, raw: str) -> Any:
        kind = type(self.default)
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(f"[{self.section}] {self.name}: expected a boolean, got {raw!r}")
            return lowered in ("true", "1", "yes", "on")
        if kind in (int, float):
            try:
                return kind(raw)
            except ValueError:
                raise ValueError(f"[{self.section}] {self.name}: expected a number, got {raw!r}") from None
        return raw.strip()


def option(default: Any, help: str) -> Any:
    """One option of a section: its default, and the help the sample configuration shows."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass
class DefaultSection:
    """[DEFAULT]: where the embedded default keeps its files."""

    data_dir: str = option('',
        'Where the embedded default keeps its SQLite database, dev cloud state and AWS CLI files. Empty: '
        '$XDG_DATA_HOME/ec2proxy (~/.local/share/ec2proxy).')


@dataclasses.dataclass
class ApiSection:
    """[api]: the EC2 API listener and how it answers."""

    listen: str = option('127.0.0.1:8788', 'HOST:PORT of the EC2 API listener.')
    region: str = option('RegionOne', 'The region this proxy serves; SigV4 scopes must name it.')
    availability_zones: str = option('nova',
        'Comma-separated zones answered by DescribeAvailabilityZones when no cloud is reachable.')
    default_availability_zone: str = option('',
        'Zone RunInstances asks Nova for when the caller names none: AWS always names the zone, at once, and '
        "tools create volumes in their instance's zone. Empty: the first available zone Nova offers.")
    max_body_size: int = option(1048576, 'Largest request body accepted, in bytes (413 beyond).')
    max_parameters: int = option(5000, 'Most query/form parameters accepted in one request.')
    rate_limit: float = option(0.0,
        'Requests per second allowed per project and worker (0: no limit); beyond it RequestLimitExceeded.')
    rate_burst: int = option(50, 'Burst size of the per-project rate limiter.')
    access_log: bool = option(True,
        'Write one JSON line per request (request id, action, project, status, code, duration) to stderr.')
    client_token_lease: float = option(60.0,
        'Seconds a pending ClientToken stays with the worker that claimed it; a retry after that takes it '
        'over and adopts what a crashed worker left in the cloud.')
    terminated_visible: int = option(3600, 'Seconds a terminated instance stays visible in DescribeInstances.')
    client_token_retention: int = option(86400,
        'Seconds a ClientToken is kept after the last instance it launched terminated (at least a day: AWS '
        'keeps them that long); `ec2proxy db purge` removes older ones.')
    client_token_replay_terminated: str = option('reservation',
        "What a RunInstances retry with the token of an all-terminated reservation gets: 'reservation' (the "
        "terminated reservation, as AWS does) or 'error' (IdempotentInstanceTerminated).")
    image_stuck_after: int = option(3600,
        "Seconds an image may stay queued or saving in Glance; older ones show 'failed' with a stateReason "
        'and `ec2proxy images stuck --delete` removes them.')
    job_lease: int = option(60,
        "Seconds a background job (CopyImage's data copy) stays with the worker running it; after that "
        'another worker, or this one restarted, takes it over.')
    volume_types: str = option('standard=__DEFAULT__ gp2=__DEFAULT__ gp3=__DEFAULT__',
        'EC2 volume types and the Cinder type each one creates, as EC2=cinder pairs; __DEFAULT__ is the '
        "cloud's default type. A type not listed is refused.")
    external_network: str = option('',
        'Name or id of the Neutron external network elastic IPs come from (default: the only external '
        'network there is).')
    image_location_allow: str = option('',
        "Hosts and networks (comma-separated, e.g. 127.0.0.1,10.0.0.0/8) RegisterImage's ImageLocation may "
        "name although they are loopback or link-local (an image server in a lab). Never this proxy's own "
        'listeners.')
    image_location_deny: str = option('',
        "More hosts and networks ImageLocation may not name (loopback, link-local and this proxy's "
        'listeners always are).')
    placement_soft_policies: bool = option(False,
        'Placement groups on Nova\'s soft server group policies: a spread group is soft-anti-affinity and a '
        'cluster group soft-affinity, so a launch the hosts cannot spread (or pack) still boots, as AWS never '
        'would (default: the strict policies, and InsufficientInstanceCapacity when Nova cannot honour them).')
    placement_wait: float = option(60.0,
        'Seconds RunInstances into a placement group waits for Nova to schedule the instances, so a launch the '
        'group\'s policy cannot hold fails as on AWS instead of leaving instances in error.')
    header_timeout: float = option(30.0,
        'Seconds a connection may stay without sending a complete request (idle keep-alive included), on '
        'every listener.')
    max_connections_per_address: int = option(256,
        'Open connections one client address may hold on each listener (0: no limit). Behind a load '
        'balancer every client shares its address: raise it there.')


@dataclasses.dataclass
class AdminSection:
    """[admin]: the operators' listener."""

    listen: str = option('127.0.0.1:8790',
        'HOST:PORT of the admin listener (/healthz, /metrics, /operations); empty to disable.')
    token: str = option('',
        "Bearer token GET /operations asks for (every project's operations are there). Empty: a random one "
        'kept in DATA_DIR/admin_token.')


@dataclasses.dataclass
class MetadataSection:
    """[metadata]: the instance metadata service."""

    listen: str = option('127.0.0.1:8789', 'HOST:PORT of the metadata service listener (empty: none).')
    shared_secret: str = option('',
        'The secret the Neutron metadata agent signs X-Instance-ID with (HMAC-SHA256). Empty: a random one '
        'kept in DATA_DIR/metadata/shared_secret (fine for the embedded default only).')
    ip_lookup: bool = option(False,
        'Without Neutron proxy headers, identify the caller by its source IP among Neutron ports. Only safe '
        'when the network path to this listener cannot be spoofed; off in production.')
    cache_ttl: float = option(5.0,
        "Seconds an instance's metadata is kept in memory; our own writes invalidate it at once.")
    identity_key: str = option('',
        'PEM private key that signs the instance identity document. Empty: one generated on first start in '
        'DATA_DIR/metadata/ (with its certificate identity.crt).')
    identity_certificate: str = option('', 'PEM certificate published for identity_key (empty: the generated one).')
    token_key: str = option('',
        'Secret that signs IMDSv2 session tokens, the same on every worker. Empty: the shared secret.')
    proxy_listen: str = option('127.0.0.1:8791',
        "HOST:PORT of `ec2proxy metadata-proxy`, the embedded stand-in for Neutron's metadata proxy.")


@dataclasses.dataclass
class AuthSection:
    """[auth]: where access keys and their secrets come from."""

    credential_source: str = option('local',
        "Where access keys live: 'local' (this proxy's database) or 'keystone' (EC2 credentials in "
        'Keystone).')
    max_skew: int = option(900, 'Largest accepted clock difference of a signed request, in seconds.')
    cache_ttl: float = option(10.0, 'Seconds a verified credential is kept in memory before it is looked up again.')
    policy_file: str = option('',
        'A policy.yaml (oslo.policy) whose rules override the defaults: readers Describe*/Get*, members '
        'everything (etc/ec2proxy/policy.yaml.sample lists every rule). A relative path is taken from the '
        "configuration file's folder. Empty: the defaults. Read at start; a file that does not parse stops it.")


@dataclasses.dataclass
class OpenStackSection:
    """[openstack]: the cloud the proxy speaks for, and how it logs in."""

    cloud: str = option('',
        'A clouds.yaml cloud name to use instead of the options below. With neither a cloud nor an '
        'auth_url, ec2proxy starts its embedded dev cloud.')
    auth_url: str = option('', 'Keystone URL, e.g. https://keystone.example.com/v3.')
    auth_type: str = option('password', 'keystoneauth1 plugin: password, v3applicationcredential, token.')
    username: str = option('', "The proxy's own service user (needs the 'service' role for ec2tokens).")
    password: str = option('', 'Its password.')
    user_domain_name: str = option('Default', 'Its domain.')
    project_name: str = option('service', 'The project the service user logs in to.')
    project_domain_name: str = option('Default', "That project's domain.")
    application_credential_id: str = option('', 'For auth_type v3applicationcredential.')
    application_credential_secret: str = option('', 'For auth_type v3applicationcredential.')
    region_name: str = option('', 'Catalog region to use (empty: the [api] region).')
    interface: str = option('public', 'Catalog interface: public, internal or admin.')
    timeout: float = option(30.0, 'Seconds before a backend call is abandoned.')
    retries: int = option(2, 'Extra attempts for idempotent reads that failed (5xx, timeout, reset).')


@dataclasses.dataclass
class DevCloudSection:
    """[devcloud]: the embedded dev cloud of the embedded default."""

    listen: str = option('127.0.0.1:0',
        'HOST:PORT of the embedded dev cloud (port 0: any free port); it keeps its state in '
        'DATA_DIR/devcloud.')
    delay: float = option(0.5, 'Seconds the embedded dev cloud takes for each asynchronous transition.')
    notify_url: str = option('',
        'RabbitMQ URL (rabbit://user:password@host:5672/) the embedded dev cloud sends its notifications to, '
        'shaped as Nova, Neutron and Cinder send theirs; empty: none.')
    notify_exchanges: str = option('nova=nova neutron=neutron cinder=openstack',
        'SERVICE=EXCHANGE pairs the embedded dev cloud notifies on (the services\' defaults).')


@dataclasses.dataclass
class DatabaseSection:
    """[database]: the proxy's own database."""

    url: str = option('',
        'SQLAlchemy URL (sqlite+aiosqlite:///... or postgresql+asyncpg://...). Empty: SQLite in the data '
        'dir.')


@dataclasses.dataclass
class NotificationsSection:
    """[notifications]: OpenStack's notifications, fed into the live view that DescribeInstances reads."""

    transport_url: str = option('',
        "oslo.messaging's URL of the RabbitMQ the services notify on (rabbit://user:password@host:5672/, as in "
        "nova.conf); empty: no feed. Nova needs [notifications] notification_format = versioned (or both), and "
        "every service [oslo_messaging_notifications] driver = messagingv2.")
    bindings: str = option('nova=versioned_notifications.* neutron=notifications.* openstack=notifications.*',
        'EXCHANGE=TOPIC pairs the feed reads, space-separated: the services\' own defaults (Cinder sends on '
        'oslo.messaging\'s "openstack" exchange); change them where their control_exchange or topics are set.')
    queue: str = option('ec2proxy-live-view',
        'The queue every worker of every proxy shares (each notification is applied by one of them).')
    bound: float = option(2.0,
        'Seconds the live view may be behind the services: when the newest notification applied was sent longer '
        'ago than this before it was applied, Describe* reads OpenStack directly until the feed has caught up.')
    reconcile: float = option(300.0,
        'Seconds the live view answers with what a notification or a direct read last wrote of an object; '
        'older, the object is read from OpenStack again (what a lost notification left wrong lasts no longer).')
    sweep: float = option(60.0,
        'Seconds between sweeps of each served project: Nova\'s changes-since listing and Neutron\'s listings '
        'of the project\'s ports, floating IPs and groups (one call each) compared with what the feed brought; a '
        'change it missed is repaired, counted, and the project is read directly '
        'until a sweep finds its changes brought by the feed (at most reconcile seconds). 0: no sweep.')


# [section] -> its typed options, in the order the sample configuration shows them
SECTIONS: dict[str, type] = {
    "DEFAULT": DefaultSection,
    "api": ApiSection,
    "admin": AdminSection,
    "metadata": MetadataSection,
    "auth": AuthSection,
    "openstack": OpenStackSection,
    "devcloud": DevCloudSection,
    "database": DatabaseSection,
    "notifications": NotificationsSection,
}
OPTIONS: tuple[Option, ...] = tuple(
    Option(section, field.name, field.default, field.metadata["help"])
    for section, kind in SECTIONS.items() for field in dataclasses.fields(kind)
)


def default_data_dir() -> pathlib.Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return pathlib.Path(base) / "ec2proxy"


class Config:
    """Typed options as ``config.api.listen``; ``config.data_dir`` is a Path."""

    default: DefaultSection
    api: ApiSection
    admin: AdminSection
    metadata: MetadataSection
    auth: AuthSection
    openstack: OpenStackSection
    devcloud: DevCloudSection
    database: DatabaseSection
    notifications: NotificationsSection

    def __init__(self, values: Mapping[tuple[str, str], Any], path: str | None = None):
        self.path = path
        for section, kind in SECTIONS.items():
            setattr(self, section.lower(), kind(**{name: value for (where, name), value in values.items()
                                                  if where == section}))
        self.data_dir = pathlib.Path(values[("DEFAULT", "data_dir")] or default_data_dir()).absolute()
        if not self.database.url:
            self.database.url = f"sqlite+aiosqlite:///{self.data_dir / 'ec2proxy.sqlite'}"

    def make_data_dir(self) -> None:
        """The data dir 0700 and its databases 0600: they hold credential secrets in clear.

        Files an older version left readable to others are closed too.
        """
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        for pattern in ("*.sqlite*", "devcloud/*.sqlite*", "metadata/*", "aws/*"):
            for path in self.data_dir.glob(pattern):
                if path.is_file():
                    os.chmod(path, 0o600)

    @property
    def policy_path(self) -> pathlib.Path | None:
        """[auth] policy_file, a relative path taken from the configuration file's folder."""
        if not self.auth.policy_file:
            return None
        path = pathlib.Path(self.auth.policy_file).expanduser()
        base = pathlib.Path(self.path).parent if self.path else pathlib.Path.cwd()
        return path if path.is_absolute() else (base / path).absolute()

    @property
    def regions(self) -> frozenset[str]:
        return frozenset({self.api.region})

    @property
    def embedded(self) -> bool:
        """True when no cloud is configured: ``serve`` then starts the dev cloud."""
        return not (self.openstack.cloud or self.openstack.auth_url)

    def auth_options(self) -> dict:
        """keystoneauth1 options of the proxy's own identity."""
        if self.openstack.cloud:
            from ec2proxy.cloud.auth import clouds_yaml_options

            return clouds_yaml_options(self.openstack.cloud)
        names = ("auth_url", "auth_type", "username", "password", "user_domain_name", "project_name",
                 "project_domain_name", "application_credential_id", "application_credential_secret")
        options = {name: getattr(self.openstack, name) for name in names}
        if options["auth_type"] != "password":
            for name in ("username", "password", "user_domain_name", "project_name", "project_domain_name"):
                options.pop(name)
        return options


def load(
    path: str | None = None,
    overrides: Mapping[tuple[str, str], str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Defaults, then the INI file, then ``EC2PROXY_*`` variables, then ``overrides``."""
    environ = os.environ if environ is None else environ
    parser = configparser.ConfigParser(interpolation=None)
    if path is not None:
        with open(path, encoding="utf-8") as handle:
            try:
                parser.read_file(handle)
            except configparser.Error as exc:
                raise ValueError(f"{path}: not an INI file: {' '.join(str(exc).split())[:200]}") from None
    known = {(o.section, o.name) for o in OPTIONS}
    for section in parser.sections():
        for name in parser[section]:
            if (section, name) not in known and ("DEFAULT", name) not in known:
                raise ValueError(f"{path}: unknown option [{section}] {name}")
    values: dict[tuple[str, str], Any] = {}
    for option in OPTIONS:
        key = (option.section, option.name)
        raw = None
        if option.section == "DEFAULT":
            raw = parser.defaults().get(option.name)
        elif parser.has_section(option.section) and parser.has_option(option.section, option.name):
            raw = parser.get(option.section, option.name)
        raw = environ.get(option.env, raw)
        if overrides and key in overrides:
            raw = overrides[key]
        values[key] = option.default if raw is None else option.convert(raw)
    _check(values)
    return Config(values, path)


def sample() -> str:
    """The documented sample configuration, every option at its default."""
    lines = ["# ec2proxy configuration. Every option is shown with its default.",
             "# Any option can also be set as EC2PROXY_<SECTION>_<OPTION> in the environment.", ""]
    section = None
    for option in OPTIONS:
        if option.section != section:
            section = option.section
            lines.append(f"[{section}]")
        lines.append(f"# {option.help}")
        default = option.default
        if isinstance(default, bool):
            default = str(default).lower()
        lines.append(f"#{option.name} = {default}")
        lines.append("")
    return "\n".join(lines)


def split_hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT (127.0.0.1:8788, [::1]:8788), got {value[:100]!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


# HOST:PORT options, checked when the configuration is read ('' turns the listener off where the help says so)
LISTENERS = (("api", "listen"), ("admin", "listen"), ("metadata", "listen"), ("metadata", "proxy_listen"),
             ("devcloud", "listen"))


def _check(values: Mapping[tuple[str, str], Any]) -> None:
    """What would fail later with a traceback, said now in one line naming the option."""
    for key in LISTENERS:
        if values[key]:
            try:
                split_hostport(values[key])
            except ValueError as exc:
                raise ValueError(f"[{key[0]}] {key[1]}: {exc}") from None
    if values[("database", "url")]:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            dialect = make_url(values[("database", "url")]).get_dialect()
            if not getattr(dialect, "is_async", False):
                raise ValueError(f"the {dialect.driver} driver is not an asyncio one")
            dialect.import_dbapi()
        except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as exc:
            raise ValueError(f"[database] url: not a database URL this proxy can use "
                             f"(sqlite+aiosqlite:///PATH, postgresql+asyncpg://..., mysql+asyncmy://...): "
                             f"{str(exc).splitlines()[0][:200]}") from None
