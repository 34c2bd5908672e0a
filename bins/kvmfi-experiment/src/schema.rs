//! kvmfi-experiment.toml(5): the experiment file's schema, as a man page
//! (generated into man/ by `make man`, like the tools' pages).

/// File name of the page under man/.
pub const MAN_FILE: &str = "kvmfi-experiment.toml.5";

/// The page, in roff.
pub fn man_page(version: &str) -> String {
    format!(
        r#".TH KVMFI\-EXPERIMENT.TOML 5 "" "kvmfi {version}" "kvmfi manual"
.SH NAME
kvmfi\-experiment.toml \- the experiment file of kvmfi\-experiment(8)
.SH DESCRIPTION
.PP
An experiment file is TOML. It says what healthy means (the steady\-state
hypothesis: probes with tolerances), what to break (the method: faults of
kvmfi tools, waits and probes, in sequence or in parallel groups, each with a
duration) and where (the target). \fBkvmfi\-experiment validate\fR checks a
file; every mistake is reported as \fIFILE\fR:\fILINE\fR: \fIfield\fR: \fIproblem\fR
and nothing is done (exit 2).
.SH TOP LEVEL
.TP
\fBtitle\fR = "TEXT"
Required. Names the experiment in the report.
.TP
\fBdescription\fR = "TEXT"
Optional prose.
.SH [target]
.PP
Optional; without it every fault goes to this host.
.TP
\fBnodes\fR = ["NAME", ...], \fBroles\fR = ["ROLE", ...]
Nodes of cluster.conf (or of an Ansible inventory, as cluster_controller(8)
reads it) by name, and every node with a role (NameNode, DataNode,
ManagementServer, Database, KVMHost, ...): together, the nodes every fault
step goes to unless it names its own. Unknown names and roles, and roles no
node has, are refused with their line.
.TP
\fBcluster_conf\fR = "FILE"
The cluster file to use (default: $KVMFI_CLUSTER_CONF, ./cluster.conf,
/etc/kvmfi/cluster.conf). Its \fBknown_hosts =\fR line is honoured.
.SH NODES
.PP
A fault that goes to nodes is applied on each of them, one after the
other, by the tool there (found in the PATH of the remote shell), held, and
undone there by the same tool's \fBoff\fR or \fBrecover\fR \fIID\fR; its
step is \fIsN\fR@\fINODE\fR in the journal and the report. A probe that names
a \fBnode\fR runs its command there. The commands go over SSH with
cluster_controller(8)'s own session code: key login, host keys checked
against known_hosts by default (\fB\-\-accept\-new\-host\-keys\fR,
\fB\-\-insecure\-ignore\-host\-keys\fR, \fB\-\-known\-hosts\fR, \fB\-i\fR,
\fB\-u\fR, \fB\-\-ssh\-config\fR, \fB\-\-connect\-timeout\fR,
\fB\-\-command\-timeout\fR of \fBrun\fR), each command in a connection of its
own. Every node the file uses is logged into once before anything is done: a
node that cannot be reached, or whose host key is refused, stops the run
(exit 5). The run journal records each node with the SSH settings that
reached it, so \fBkvmfi\-experiment recover\fR needs no options to undo a
remote fault after a kill \-9. A scope \fBpidfile\fR is read on the node.
.SH [steady_state]
.TP
\fBprobes\fR = ["NAME", ...]
Required. The probes that make up the hypothesis; each must be a [[probe]].
They run before the method (all must pass, else nothing is injected), every
\fBinterval\fR during it (the first out of tolerance stops the method, which
is rolled back at once) and after the rollback.
.TP
\fBinterval\fR = "DURATION"
Default 2s.
.TP
\fBsettle\fR = "DURATION"
How long each probe after the rollback may keep failing while the system
recovers (retried every 500 ms). Default 0: one try.
.SH [[probe]]
.PP
Every probe has \fBname\fR, \fBtype\fR, and optionally \fBtimeout\fR
(default 10s) and \fBmax_latency\fR (a probe slower than that is out of
tolerance).
.TP
\fBtype = "command"\fR
\fBcommand\fR = ["PROG", "ARG", ...]; \fBexit\fR = N (default 0);
\fBoutput\fR = "REGEX" that standard output must match (multi\-line: ^ and $
match at each line).
.TP
\fBtype = "http"\fR
\fBurl\fR = "http://HOST:PORT/PATH" (plain HTTP/1.1, no TLS);
\fBstatus\fR = N (default 200).
.TP
\fBtype = "tcp"\fR
\fBaddress\fR = "HOST:PORT": a connection must open.
.TP
\fBtype = "hdfs"\fR
\fBmin_live\fR = N (default 1) live DataNodes in `hdfs dfsadmin \-report`;
\fBhdfs\fR = ["hdfs"] the command to run.
.TP
\fBtype = "mariadb"\fR
\fBquery\fR = "SQL" run with \fBclient\fR (default ["mariadb"]) \-N \-B \-e;
\fBexpect\fR = "REGEX" its output must match.
.TP
\fBtype = "qmp"\fR
\fBsocket\fR = "PATH" of QEMU's QMP unix socket; \fBstate\fR = "running"
(default) is what query\-status must say.
.TP
\fBnode\fR = "NAME"
Command, hdfs and mariadb probes: run the command on that node of the
cluster file (see NODES). Other probes are made from this host, so they
refuse \fBnode\fR.
.SH [[method]]
.PP
Steps run in file order. Each step is exactly one of:
.TP
\fBfault\fR = "TOOL"
A fault of a kvmfi tool, applied, held for \fBduration\fR (required), then
undone. Kernel tools (vfs\-read\-fi, vfs\-write\-fi, kvm\-ioctl\-fi,
kvm\-version\-fi, vcpu\-state\-fi, dirty\-log\-fi, memslot\-fi, cpu\-reg\-main,
mm\-fault\-fi, kswapd\-fi, tlb\-flush\-fi, func\-fail\-fi) need \fBscope\fR =
{{ tgid = PID }}, {{ pidfile = FILE }}, {{ comm = NAME }}, {{ cgroup = DIR }} or
{{ pid = TID }}, and take their fault options in \fBargs\fR (e.g. ["\-\-cmd",
"KVM_RUN"]); they are armed with a lease of \fBduration\fR + 10 s. kfail\-fi
(the kernel's own fault\-injection framework) is armed the same way, with a
task scope only ({{ tgid = PID }}, {{ pidfile = FILE }} or {{ pid = TID }})
and its facility first in \fBargs\fR (e.g. ["failslab", "\-\-probability",
"50"]); it is undone by \fBkfail\-fi recover\fR \fIID\fR. Injectors
(hadoop_injector, cloudstack_injector, disk\-fi) take their command and its
target in \fBargs\fR (e.g. ["crash", "dn"], or ["badblocks",
"/var/lib/vm/disk.img", "\-\-sectors", "2048+8"]) and are undone by
\fBrecover\fR \fIID\fR; disk\-fi also gets the lease. \-\-yes, \-\-duration and scope options are
refused in \fBargs\fR. \fBname\fR labels the step. \fBnodes\fR = ["NAME", ...]
and \fBroles\fR = ["ROLE", ...] send the fault to those nodes instead of
[target]'s (see NODES).
.TP
\fBwait\fR = "DURATION"
.TP
\fBprobe\fR = "NAME"
Runs that probe once; out of tolerance stops the method.
.TP
\fBparallel\fR = [ STEP, ... ], \fBsequence\fR = [ STEP, ... ]
Groups of steps (inline tables), run at the same time or one after the other.
.SH DURATIONS
500ms, 30s, 5m, 2h, or a number of seconds; more than 0.
.SH EXAMPLE
.nf
title = "HDFS keeps serving reads while a DataNode is down"
[steady_state]
probes = ["read", "namenode"]
interval = "2s"
settle = "30s"
[[probe]]
name = "read"
type = "command"
command = ["hdfs", "dfs", "\-cat", "/probe/data"]
output = "hello"
[[probe]]
name = "namenode"
type = "tcp"
address = "127.0.0.1:9000"
[[method]]
name = "crash one DataNode"
fault = "hadoop_injector"
args = ["crash", "dn"]
duration = "20s"
.fi
.PP
The same fault on every DataNode of a cluster, with the NameNode probed on
its own node:
.nf
title = "HDFS keeps its NameNode while the DataNodes hang"
[target]
cluster_conf = "/etc/kvmfi/cluster.conf"
roles = ["DataNode"]
[steady_state]
probes = ["namenode"]
[[probe]]
name = "namenode"
type = "command"
node = "master"
command = ["pgrep", "\-f", "namenode.NameNode"]
[[method]]
fault = "hadoop_injector"
args = ["hang", "dn"]
duration = "30s"
.fi
.SH SEE ALSO
kvmfi\-experiment(8), kvmfi\-halt(8), cluster_controller(8)
"#
    )
}
