//! Command-line contract of cloudstack_injector that needs no root and no
//! daemons: bad input exits 2 with one line, changes nothing; help works.

#[macro_use]
#[path = "../../../shared/testsupport/cli_contract.rs"]
mod cli_contract;

cli_contract_tests!("cloudstack_injector", cloudstack_injector::command, BAD);

const BAD: &[&str] = &[
    "",
    "crash vx",
    "hang",
    "api-delay",
    "api-delay -5",
    "api-delay 0",
    "api-delay 60001",
    "api-delay 99999999999999999999",
    "api-delay 100 --dev bad/dev",
    "api-delay 100 --port 0",
    "db-limit --user-connections 0",
    "db-limit --max-connections -1",
    "db-limit --db-user x'y",
    "db-limit --db-port 70000",
    "storage-ro",
    "storage-ro /nonexistent/x",
    "agent-disconnect --port 65536",
    "recover abc",
    "list extra",
    // the original's later commands
    "sysvm-crash xyz",
    "sysvm-hang",
    "network 127.0.0.1 0",
    "network 300.1.1.1",
    "db-lock --table x'y",
    "storage-fill /nonexistent/x",
    "storage-fill /tmp --size 0",
    "storage-umount /nonexistent/x",
    "cpu-stress 0",
    "cpu-stress 86401",
    "mem-stress 0",
    "vm-migrate-fail --ports 5-1",
    "agent-disconnect 300.1.1.1",
];
