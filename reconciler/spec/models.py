"""The documents of a desired-state repository, as pydantic models (pure).

Three kinds share `apiVersion: vzgitops/v1`: `Container` (one OpenVZ container, field names
after vzctl's own options), `Node` (a hardware node and its capacity) and `Defaults` (values every
container of a node, or of the repository, gets unless it sets them itself). Every model is frozen
and forbids unknown fields; every field is described, and the descriptions flow into `schemas/`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reconciler.spec.backup import BackupPolicy, RestoreFrom
from reconciler.spec.types import (
    ByteRate,
    CInt,
    ContainerName,
    CpuMask,
    CtId,
    DevNode,
    DevPerm,
    DiskSize,
    HostKey,
    Hostname,
    IfName,
    IpInterface,
    ItemCount,
    KnownHostsPath,
    Mac,
    MemorySize,
    ObjectName,
    OsTemplate,
    Resolvers,
    SafeStr,
    SampleName,
    SearchDomains,
    SshHost,
    SshUser,
    StrictInt,
    SwapSize,
    TotalDisk,
    TotalMemory,
    YesNo,
)
from reconciler.spec.windows import MaintenanceWindow

API_VERSION = "vzgitops/v1"
KINDS = ("Container", "Node", "Defaults")
FEATURES = ("sysfs", "nfs", "sit", "ipip", "ppp", "ipgre", "bridge", "nfsd")
CAPABILITIES = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
    "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
    "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
    "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
    "lease", "audit_write", "ve_admin", "setfcap",
)  # fmt: skip

Feature = Literal["sysfs", "nfs", "sit", "ipip", "ppp", "ipgre", "bridge", "nfsd"]
Capability = Literal[
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
    "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
    "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
    "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
    "lease", "audit_write", "ve_admin", "setfcap",
]  # fmt: skip
State = Literal["running", "stopped", "absent"]
RestartPolicy = Literal["auto", "never"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class NetIf(Frozen):
    """A veth interface; pin the MAC, or vzctl derives it from the host's own MAC."""

    ifname: IfName = Field(description="Interface name inside the container, e.g. eth0.")
    mac: Mac = Field(
        description="MAC address inside the container (pinned, so it is the same on every node)."
    )
    host_ifname: IfName | None = Field(
        default=None, description="Interface name on the host; vzctl's default is veth<CTID>.<N>."
    )
    host_mac: Mac | None = Field(default=None, description="MAC address of the host side.")
    bridge: IfName | None = Field(
        default=None, description="Host bridge to add the host side to, e.g. br0."
    )


class Settings(Frozen):
    """Every setting a container can have; shared by Container specs and Defaults."""

    ostemplate: OsTemplate | None = Field(
        default=None,
        description="OS template cache name (distro-version-arch[-flavour]); changing it needs a recreate.",
    )
    layout: Literal["simfs", "ploop"] | None = Field(
        default=None, description="Private area layout; changing it needs a recreate."
    )
    config: SampleName | None = Field(
        default=None,
        description="Sample config used at create time (ve-<config>.conf-sample), e.g. vswap-256m.",
    )
    hostname: Hostname | None = Field(default=None, description="Host name (RFC 1123).")
    ip: list[IpInterface] | None = Field(
        default=None, description="venet IP addresses, each optionally with /prefix."
    )
    nameserver: Resolvers | None = Field(
        default=None, description="DNS servers, in order; at least one (vzctl cannot empty it)."
    )
    searchdomain: SearchDomains | None = Field(
        default=None, description="DNS search domains, in order; at least one."
    )
    netif: list[NetIf] | None = Field(default=None, description="veth interfaces.")
    ram: MemorySize | None = Field(
        default=None,
        description="RAM (vswap physpages) with its unit: 512M, 2G, 2.5G, 131072P or unlimited; at least 16M.",
    )
    swap: SwapSize | None = Field(
        default=None,
        description="Swap (vswap swappages) with its unit: 512M, 1G, unlimited, or 0 for none.",
    )
    diskspace: DiskSize | None = Field(
        default=None,
        description="Disk space with its unit, one value or soft:hard: 20G or 20G:22G; at least 128M.",
    )
    diskinodes: ItemCount | None = Field(
        default=None, description="Disk inodes, one value or soft:hard."
    )
    quotaugidlimit: StrictInt | None = Field(
        default=None,
        ge=0,
        le=9223372036854775807,
        description="Per-user/group quota entries; switching between 0 and non-zero needs a restart.",
    )
    cpus: StrictInt | None = Field(
        default=None, ge=1, le=4096, description="Number of CPUs visible in the container."
    )
    cpuunits: StrictInt | None = Field(
        default=None, ge=8, le=500000, description="CPU weight, 8..500000 (vzctl default 1000)."
    )
    cpulimit: StrictInt | None = Field(
        default=None,
        ge=0,
        le=409600,
        description="CPU limit in percent of one CPU (200 = two CPUs); 0 = none.",
    )
    cpumask: CpuMask | None = Field(
        default=None, description="CPUs the container may run on, e.g. 0-3,7 or all."
    )
    ioprio: StrictInt | None = Field(
        default=None, ge=0, le=7, description="I/O priority 0..7 (default 4)."
    )
    iolimit: ByteRate | None = Field(
        default=None,
        description="I/O bandwidth limit per second with its unit: 10M, 512K; at most 2147483647B; 0 or unlimited = none.",
    )
    iopslimit: CInt | None = Field(
        default=None,
        ge=0,
        le=2147483647,
        description="I/O operations per second, at most 2147483647; 0 = unlimited.",
    )
    numproc: ItemCount | None = Field(
        default=None, description="UBC numproc: processes and threads, N or barrier:limit."
    )
    numtcpsock: ItemCount | None = Field(default=None, description="UBC numtcpsock: TCP sockets.")
    numothersock: ItemCount | None = Field(
        default=None, description="UBC numothersock: non-TCP sockets."
    )
    numfile: ItemCount | None = Field(default=None, description="UBC numfile: open files.")
    numflock: ItemCount | None = Field(default=None, description="UBC numflock: file locks.")
    numpty: ItemCount | None = Field(default=None, description="UBC numpty: pseudo-terminals.")
    numsiginfo: ItemCount | None = Field(
        default=None, description="UBC numsiginfo: siginfo structures."
    )
    numiptent: ItemCount | None = Field(
        default=None, description="UBC numiptent: iptables entries."
    )
    onboot: YesNo | None = Field(
        default=None, description="Start the container when the node boots."
    )
    bootorder: StrictInt | None = Field(
        default=None,
        ge=0,
        le=2147483647,
        description="Boot order; higher starts earlier, and vzgitops starts higher first too.",
    )
    disabled: YesNo | None = Field(
        default=None, description="Refuse to start the container (vzctl exit 105)."
    )
    description: SafeStr | None = Field(
        default=None,
        max_length=255,
        description="Free text; no quotes, backslashes or control characters.",
    )
    features: dict[Feature, YesNo] | None = Field(
        default=None, description="Features to switch on or off, e.g. {nfs: true}; needs a restart."
    )
    capability: dict[Capability, YesNo] | None = Field(
        default=None,
        description="Capabilities to switch on or off, e.g. {net_admin: true}; needs a restart.",
    )
    netfilter: Literal["disabled", "stateless", "stateful", "full"] | None = Field(
        default=None, description="Netfilter mode; needs a restart."
    )
    devnodes: dict[DevNode, DevPerm] | None = Field(
        default=None,
        description="Device nodes and their access, e.g. {net/tun: rw}; none removes one.",
    )
    restart: RestartPolicy | None = Field(
        default=None,
        description="auto: restart to apply restart-class changes; never: leave them pending.",
    )
    allowRecreate: YesNo | None = Field(
        default=None,
        description="Allow destroying and re-creating the container for ostemplate/layout changes.",
    )
    protect: YesNo | None = Field(
        default=None, description="Never destroy this container, whatever git says."
    )
    migrate: Literal["offline", "online", "recreate"] | None = Field(
        default=None,
        description="When metadata.node changes: offline (vzmigrate, stopped while copied; the default), online (vzmigrate --online when it runs), or recreate (create it anew on the new node, destroy the old one after a dump).",
    )
    maintenance: list[MaintenanceWindow] | None = Field(
        default=None,
        description="Maintenance windows: restarts, recreates, stops and destroys wait for one (live changes do not); replaces the node's windows; omitted: the node's.",
    )
    backup: BackupPolicy | None = Field(
        default=None,
        description="Scheduled vzdump backups taken by 'vzgitops run'; replaces the node's policy; omitted: the node's (none: no scheduled backups).",
    )


class ContainerSpec(Settings):
    """The desired state of one container."""

    ctid: CtId = Field(description="Container ID, 101..2147483644 (1-100 are reserved).")
    state: State = Field(
        default="running",
        description="running, stopped, or absent (destroyed when pruning is enabled).",
    )
    restoreFrom: RestoreFrom | None = Field(
        default=None,
        description="Create the container by restoring this vzdump archive (a file name in the dump directory, or latest: its newest archive) instead of from its template; only while it is absent from the node, once.",
    )


class Metadata(Frozen):
    """Name, node and labels of a container."""

    name: ContainerName = Field(
        description="Unique name, also the vzctl --name; not all digits (vzctl reads those as a CTID)."
    )
    node: ObjectName | None = Field(
        default=None,
        description="Node this belongs to; may be omitted when the repository has one node.",
    )
    labels: dict[ObjectName, SafeStr] | None = Field(
        default=None, description="Free labels, for people and reports only."
    )


class NodeMetadata(Frozen):
    """Name and labels of a Node or Defaults document."""

    name: ObjectName = Field(description="Name of the node, or of the Defaults document.")
    labels: dict[ObjectName, SafeStr] | None = Field(default=None, description="Free labels.")


class Capacity(Frozen):
    """What a node's running and stopped containers may sum up to; unset: not checked."""

    ram: TotalMemory | None = Field(
        default=None, description="RAM the containers may sum up to, with its unit: 64G."
    )
    disk: TotalDisk | None = Field(
        default=None, description="Disk space the containers may sum up to (hard limits)."
    )
    cpus: StrictInt | None = Field(
        default=None, ge=1, description="CPUs the containers' cpus may sum up to."
    )
    cpuOvercommit: float | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Pre-flight: the running containers' cpus may sum up to the node's CPUs (nproc) times this ratio, e.g. 4; unset: not checked.",
    )


class SshAccess(Frozen):
    """How vzgitops reaches a node over ssh (OpenSSH's client; --ssh-config FILE is its -F)."""

    host: SshHost = Field(description="Host name or IP address of the node.")
    port: StrictInt = Field(default=22, ge=1, le=65535, description="sshd's port.")
    user: SshUser = Field(default="root", description="The user vzctl runs as (root on a node).")
    hostKey: HostKey | None = Field(
        default=None,
        description="The node's pinned host key, as ssh-keyscan prints it: ssh-ed25519 AAAA...; a connection to another key is refused.",
    )
    knownHosts: KnownHostsPath | None = Field(
        default=None,
        description="A known_hosts file on the machine that runs vzgitops (absolute or ~/...) that holds the node's host key (instead of hostKey).",
    )
    connectTimeout: StrictInt = Field(
        default=10, ge=1, le=600, description="Seconds to wait for the connection."
    )

    @model_validator(mode="after")
    def _one_host_key(self) -> SshAccess:
        if (self.hostKey is None) == (self.knownHosts is None):
            raise ValueError(
                "give exactly one of hostKey (the pinned key) or knownHosts (a file): the node's "
                "host key is always checked"
            )
        return self


class NodeSpec(Frozen):
    """How a node is reached, what it can hold, and whether vzgitops prunes on it."""

    access: Literal["local", "ssh"] = Field(
        default="local",
        description="How the node is reached: local (vzctl on PATH, the agent on the node itself) or ssh (spec.ssh).",
    )
    ssh: SshAccess | None = Field(default=None, description="With access: ssh, where and how.")
    capacity: Capacity | None = Field(
        default=None, description="Capacity; checked against the sum of the containers."
    )
    prune: YesNo | None = Field(
        default=None,
        description="Destroy owned containers that git no longer lists (or marks absent).",
    )
    maintenance: list[MaintenanceWindow] | None = Field(
        default=None,
        description="Maintenance windows of the node's containers (unless a container or Defaults sets its own); omitted: always open.",
    )
    backup: BackupPolicy | None = Field(
        default=None,
        description="Scheduled vzdump backups of the node's containers (unless a container or Defaults sets its own).",
    )

    @model_validator(mode="after")
    def _ssh_given(self) -> NodeSpec:
        if self.access == "ssh" and self.ssh is None:
            raise ValueError("access: ssh needs spec.ssh (host, and hostKey or knownHosts)")
        if self.access == "local" and self.ssh is not None:
            raise ValueError("spec.ssh is only used with access: ssh")
        return self


class DefaultsSpec(Settings):
    """Settings every container of the scope gets unless it sets them (ip and netif excepted)."""

    node: ObjectName | None = Field(
        default=None, description="Apply only to containers of this node; omitted: every container."
    )


class Container(Frozen):
    """kind: Container."""

    apiVersion: Literal["vzgitops/v1"] = Field(description="Always vzgitops/v1.")
    kind: Literal["Container"] = Field(description="Container.")
    metadata: Metadata = Field(description="Name and node.")
    spec: ContainerSpec = Field(description="Desired state.")


class Node(Frozen):
    """kind: Node."""

    apiVersion: Literal["vzgitops/v1"] = Field(description="Always vzgitops/v1.")
    kind: Literal["Node"] = Field(description="Node.")
    metadata: NodeMetadata = Field(description="Name.")
    spec: NodeSpec = Field(default_factory=NodeSpec, description="Access and capacity.")


class Defaults(Frozen):
    """kind: Defaults."""

    apiVersion: Literal["vzgitops/v1"] = Field(description="Always vzgitops/v1.")
    kind: Literal["Defaults"] = Field(description="Defaults.")
    metadata: NodeMetadata = Field(description="Name.")
    spec: DefaultsSpec = Field(description="Values for every container that does not set them.")


Document = Container | Node | Defaults
MODELS: dict[str, type[Container] | type[Node] | type[Defaults]] = {
    "Container": Container,
    "Node": Node,
    "Defaults": Defaults,
}
