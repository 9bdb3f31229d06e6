#!/bin/bash
# User data for ECS container instances that run Tandem on the EC2 launch type (ECS-optimized
# Amazon Linux 2023). Set CLUSTER below (or export it before), put the script in the launch template.
#
# Why on the instance: an ECS task definition cannot choose a seccomp profile (dockerSecurityOptions
# takes no seccomp value: aws/amazon-ecs-agent#896, aws/containers-roadmap#1782), and Docker's default
# profile (Docker 25 and later) refuses io_uring_setup, so Tandem would fall back to epoll. This
# makes Docker on these instances - dedicate them to Tandem - use deploy/ecs/seccomp-tandem.json:
# everything allowed, io_uring included, except the kernel-administration, namespace, keyring,
# tracing and BPF system calls a stream processor never makes (the tasks also drop every capability).
# It then tags the instance with the attribute deploy/ecs/taskdef-ec2.json's placement constraint
# asks for, so Tandem tasks land only on instances prepared this way.
set -euo pipefail
CLUSTER=${CLUSTER:-tandem}

install -d -m 0755 /etc/docker
cat >/etc/docker/seccomp-tandem.json <<'JSON'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": [
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM"
  ],
  "syscalls": [
    {
      "names": [
        "_sysctl",
        "acct",
        "add_key",
        "bpf",
        "clock_adjtime",
        "clock_settime",
        "create_module",
        "delete_module",
        "finit_module",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "get_kernel_syms",
        "init_module",
        "ioperm",
        "iopl",
        "kcmp",
        "kexec_file_load",
        "kexec_load",
        "keyctl",
        "lookup_dcookie",
        "mount",
        "move_mount",
        "name_to_handle_at",
        "nfsservctl",
        "open_by_handle_at",
        "open_tree",
        "perf_event_open",
        "pivot_root",
        "process_vm_readv",
        "process_vm_writev",
        "ptrace",
        "query_module",
        "quotactl",
        "reboot",
        "request_key",
        "setns",
        "settimeofday",
        "stime",
        "swapoff",
        "swapon",
        "sysfs",
        "syslog",
        "umount",
        "umount2",
        "unshare",
        "uselib",
        "userfaultfd",
        "ustat",
        "vm86",
        "vm86old"
      ],
      "action": "SCMP_ACT_ERRNO",
      "errnoRet": 1
    }
  ]
}
JSON

# Merge the profile into daemon.json (keep any other settings already there).
python3 - <<'PY'
import json, os
path = "/etc/docker/daemon.json"
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) > 0 else {}
config["seccomp-profile"] = "/etc/docker/seccomp-tandem.json"
json.dump(config, open(path, "w"), indent=2)
PY

cat >>/etc/ecs/ecs.config <<CONFIG
ECS_CLUSTER=$CLUSTER
ECS_INSTANCE_ATTRIBUTES={"tandem.seccomp":"io_uring"}
ECS_CONTAINER_STOP_TIMEOUT=120s
CONFIG

systemctl restart docker
systemctl restart --no-block ecs
