"""vzctl and vzmigrate 4.x exit codes by name: the one table the executor and the simulator share.

Numbers and names are those of vzctl 4.x's include/vzerror.h without the `VZ_`/`VZCTL_E_`
prefix (../shared/openvz/REFERENCE.md section 8.1; OVZ7 differs, section 8.2). The executor
(`apply`) classifies them; the simulator (`sim`) exits with them. Only the standard library is
imported: every simulated call is a new process and must start fast.
"""

from __future__ import annotations

from enum import IntEnum


class VzctlExit(IntEnum):
    """An exit status of vzctl 4.x."""

    OK = 0
    SETUBC_ERROR = 1
    SETFSHD_ERROR = 2
    SYSTEM_ERROR = 3
    BAD_KERNEL = 5
    RESOURCE_ERROR = 6
    ENVCREATE_ERROR = 7
    COMMAND_EXECUTION_ERROR = 8
    LOCKED = 9
    NOCONFIG = 10
    NOSCRIPT = 11
    NO_ACCES = 12
    SET_CAP = 13
    NOVECONFIG = 14
    EXEC_TIMEOUT = 15
    CHKPNT_ERROR = 16
    RESTORE_ERROR = 17
    SETLUID_ERROR = 18
    INVALID_PARAMETER_SYNTAX = 20
    INVALID_PARAMETER_VALUE = 21
    VE_ROOT_NOTSET = 22
    VE_PRIVATE_NOTSET = 23
    VE_TMPL_NOTSET = 24
    NOTENOUGHPARAMS = 27
    NOTENOUGHUBCPARAMS = 28
    VE_OSTEMPLATE_NOTSET = 29
    VE_NOT_RUNNING = 31
    VE_RUNNING = 32
    STOP_ERROR = 33
    CANT_ADDIP = 34
    VALIDATE_ERROR = 35
    OVERCOMMIT_ERROR = 36
    FS_NOT_MOUNTED = 40
    FS_MOUNTED = 41
    FS_NOPRVT = 43
    FS_PRVT_AREA_EXIST = 44
    FS_NO_DISK_SPACE = 46
    FS_BAD_TMPL = 47
    FS_NEW_VE_PRVT = 48
    FS_MPOINTCREATE = 49
    FS_CANTMOUNT = 50
    FS_CANTUMOUNT = 51
    FS_DEL_PRVT = 52
    UNK_MOUNT_TYPE = 53
    CANT_CREATE_DIR = 54
    NOTENOUGH_QUOTA_LIMITS = 55
    DQ_ON = 60
    DQ_INIT = 61
    DQ_SET = 62
    DQ_LIMIT_NOTSET = 63
    DQ_INODES_NOTSET = 64
    DQ_UGID_SET = 65
    DQ_OFF = 66
    DQ_UGID_NOTINITIALIZED = 67
    GET_QUOTA_USAGE = 68
    BADHOSTNAME = 70
    BADIP = 71
    BADDNSSRV = 72
    BADDNSSEARCH = 73
    CHANGEPASS = 74
    VE_LCKDIR_NOTSET = 77
    IP_INUSE = 78
    ACTIONSCRIPT_ERROR = 79
    CP_CONFIG = 82
    INVALID_CONFIG = 85
    SET_DEVICES = 86
    INSTALL_APPS_ERROR = 87
    IP_NA = 89
    OSTEMPLATE_NOT_FOUND = 91
    PLOOP_UNSUP = 99
    GET_IP_ERROR = 100
    NETDEV_ERROR = 104
    VE_START_DISABLED = 105
    SET_IPTABLES = 106
    NO_DISTR_CONF = 107
    NO_DISTR_ACTION_SCRIPT = 108
    APPLY_CONFIG_ERROR = 109
    CUSTOM_REINSTALL_ERROR = 128
    SET_MEMINFO_ERROR = 129
    VETH_ERROR = 130
    SET_NAME_ERROR = 131
    WAIT_FAILED = 133
    CONFIG_SAVE_ERROR = 139
    SET_OSRELEASE = 144
    SET_IO = 148
    CREATE_IMAGE = 151
    MOUNT_IMAGE = 152
    UMOUNT_IMAGE = 153
    RESIZE_IMAGE = 154
    CONVERT_IMAGE = 155
    CREATE_SNAPSHOT = 156
    MERGE_SNAPSHOT = 157
    DELETE_SNAPSHOT = 158
    SWITCH_SNAPSHOT = 159
    MOUNT_SNAPSHOT = 160
    UMOUNT_SNAPSHOT = 161
    COMPACT_IMAGE = 166
    LIST_SNAPSHOT = 167


class VzmigrateExit(IntEnum):
    """An exit status of vzmigrate 4.x (bin/vzmigrate.in's MIG_ERR_*; REFERENCE section 10.1)."""

    OK = 0
    USAGE = 1
    VPS_IS_STOPPED = 2  # --online of a stopped container
    CANT_CONNECT = 4
    COPY = 6
    START_VPS = 7  # also MOUNT_VPS and RESTORE_VPS on the destination
    STOP_SOURCE = 8  # also CHECKPOINT
    EXISTS = 9  # the CTID exists on the destination
    NOEXIST = 10  # the CTID does not exist on the source
    IP_IN_USE = 12
    QUOTA = 13
    OVZ_NOT_RUNNING = 14
    APPLY_CONFIG = 15
    UNSUP_PLOOP = 16
    UNSUP_CPT_VER = 17
    UNSUP_CPU = 18
    CANT_READ_REMOTE_CONFIG = 19
    LOCKED = 20
