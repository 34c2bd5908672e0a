//! Command-line contract of hadoop_injector that needs no root and no
//! daemons: bad input exits 2 with one line, changes nothing; help works.

#[macro_use]
#[path = "../../../shared/testsupport/cli_contract.rs"]
mod cli_contract;

cli_contract_tests!("hadoop_injector", hadoop_injector::command, BAD);

const BAD: &[&str] = &[
    "",
    "crash xx",
    "hang",
    "resume nn dn",
    "network 10.0.0.300",
    "network 0.0.0.0",
    "network host",
    "hdfs-safe sideways",
    "yarn-health maybe",
    "recover -1",
    "recover 0",
    "recover 99999999999999999999999",
    "--timeout -5s list",
    "--timeout 0 list",
    "--main-class nn list",
    "--main-class zz=a.B list",
    "frobnicate",
    // the original's later commands
    "delay",
    "delay 10.0.0.1",
    "delay 10.0.0.1 0",
    "delay 10.0.0.1 60001",
    "delay 10.0.0.1 10 -1",
    "delay 10.0.0.1 10 --dev bad/dev",
    "loss 10.0.0.1 0",
    "loss 10.0.0.1 101",
    "reorder 10.0.0.1 50 101",
    "isolate 10.0.0.1 0",
    "isolate bad/name",
    "heartbeat 10.0.0.1 0",
    "cpu-stress 127.0.0.1 0",
    "cpu-stress 127.0.0.1 86401",
    "mem-stress 127.0.0.1 0",
    "disk-fill 127.0.0.1 0",
    "io-slow 127.0.0.1 maybe",
    "yarn-unhealthy 127.0.0.1 sideways",
    "crash-map",
    "crash mapper",
    "cpu-stress-local 0",
];
