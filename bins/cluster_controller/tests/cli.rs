//! CLI contract of cluster_controller: exit statuses, messages, and the
//! parts that need no SSH server (the namespace-cluster tests in
//! tests/userspace/cluster_suite.sh cover the rest).

use assert_cmd::Command;
use std::io::Write;

fn conf(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn cc() -> Command {
    let mut c = Command::cargo_bin("cluster_controller").unwrap();
    c.env_remove("KVMFI_CLUSTER_CONF");
    c
}

#[test]
fn nodes_prints_the_file() {
    let f = conf("# c\nm,10.77.9.11,22,NameNode,ResourceManager\ns1,10.77.9.12,2222,datanode\n");
    let out = cc().arg("-c").arg(f.path()).arg("nodes").assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("m\t10.77.9.11\t22\tNameNode,ResourceManager\n"), "{text}");
    assert!(text.contains("s1\t10.77.9.12\t2222\tDataNode\n"), "{text}");
}

#[test]
fn bad_file_is_a_usage_error_with_its_line() {
    let f = conf("m,10.77.9.11,22,NameNode\n\nx,10.77.9.12,22,Bogus\n");
    let a = cc().arg("-c").arg(f.path()).arg("nodes").assert().code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains(": line 3: unknown role 'Bogus'"), "{err}");
    assert!(err.starts_with("cluster_controller: "), "{err}");
}

#[test]
fn usage_errors() {
    let f = conf("m,10.77.9.11,22,NameNode\n");
    for (args, want) in [
        (vec!["inject", "-t", "nosuch", "hadoop", "crash", "dn"], "no node named 'nosuch'"),
        (vec!["inject", "-t", "role:Bogus", "hadoop", "list"], "unknown role 'Bogus'"),
        (vec!["inject", "-t", "role:DataNode", "hadoop", "list"], "no node of the cluster has role DataNode"),
        (vec!["partition"], "--target"),
        (vec!["partition", "-t", "all"], "--peer"),
        (vec!["scenario", "bogus"], "invalid value 'bogus'"),
        (vec!["--connect-timeout", "0", "status"], "must be above zero"),
    ] {
        let a = cc().arg("-c").arg(f.path()).args(&args).assert().code(2);
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn no_command_without_a_terminal_is_a_usage_error() {
    let f = conf("m,10.77.9.11,22,NameNode\n");
    cc().arg("-c").arg(f.path()).write_stdin("").assert().code(2);
}

#[test]
fn scenario_list() {
    let out = cc().args(["scenario", "--list"]).assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    for s in ["datanode-crash", "datanode-partition", "namenode-crash", "resourcemanager-hang", "api-delay", "db-starvation", "kvm-ioctl-deny"] {
        assert!(text.contains(s), "{s}: {text}");
    }
}

#[test]
fn refused_port_is_unreachable_at_once() {
    // A port nobody listens on: connection refused, reported per node, exit 1.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let f = conf(&format!("a,127.0.0.1,{port},DataNode\n"));
    let start = std::time::Instant::now();
    let a = cc().arg("-c").arg(f.path()).args(["--connect-timeout", "3s", "-i", "/nonexistent", "status"]).assert().code(1);
    assert!(start.elapsed() < std::time::Duration::from_secs(3));
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(out.contains("UNREACHABLE"), "{out}");
}

#[test]
fn not_ssh_is_reported_within_the_timeout() {
    // A listener that never speaks SSH: the handshake times out.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let f = conf(&format!("a,127.0.0.1,{port},DataNode\n"));
    let start = std::time::Instant::now();
    let a = cc().arg("-c").arg(f.path()).args(["--connect-timeout", "1s", "-i", "/nonexistent", "--json", "recover"]).assert().code(1);
    assert!(start.elapsed() < std::time::Duration::from_secs(5), "{:?}", start.elapsed());
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["reachable"], false, "{out}");
    assert_eq!(v["phase"], "recover");
    drop(l);
}

#[test]
fn menu_reads_answers_from_a_pipe() {
    let f = conf("m,10.77.9.11,22,NameNode\n");
    let a = cc().arg("-c").arg(f.path()).arg("menu").write_stdin("9\n2\n0\nq\n").assert().success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(out.contains("[7] Load cluster configuration"), "{out}");
    assert!(out.contains("'9' is not a choice"), "{out}");
    assert!(out.contains("--- Hadoop fault injection ---"), "{out}");
    assert!(out.contains("Bye."), "{out}");
}

#[test]
fn inventories_in_and_out() {
    let f = conf("m,10.77.9.11,22,NameNode,ResourceManager\ns1,10.77.9.12,2222,datanode\n");
    let out = cc().arg("-c").arg(f.path()).args(["nodes", "--export", "ansible"]).assert().success().get_output().stdout.clone();
    let ini = String::from_utf8(out).unwrap();
    assert!(ini.contains("[DataNode]\ns1 ansible_host=10.77.9.12 ansible_port=2222\n"), "{ini}");
    // The export read back as a cluster file gives the same nodes.
    let g = conf(&ini);
    let out = cc().arg("-c").arg(g.path()).arg("nodes").assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("m\t10.77.9.11\t22\tNameNode,ResourceManager\n"), "{text}");
    assert!(text.contains("s1\t10.77.9.12\t2222\tDataNode\n"), "{text}");
    // A host in no role group: exit 2, its line named.
    let bad = conf("[datanode]\nd1 ansible_host=10.0.0.1\n[web]\nw1\n");
    let a = cc().arg("-c").arg(bad.path()).arg("nodes").assert().code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains(": line 4: host 'w1' is in no role group"), "{err}");
}

#[test]
fn host_key_options() {
    let f = conf("m,10.77.9.11,22,NameNode\n");
    for (args, want) in [
        (vec!["--accept-new-host-keys", "--insecure-ignore-host-keys", "status"], "cannot be used with"),
        (vec!["--ssh-config", "/nonexistent/config", "status"], "--ssh-config /nonexistent/config: no such file"),
    ] {
        let a = cc().arg("-c").arg(f.path()).args(&args).assert().code(2);
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let bad = conf("known_hosts =\nm,10.77.9.11,22,NameNode\n");
    let a = cc().arg("-c").arg(bad.path()).arg("nodes").assert().code(2);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains(": line 1: known_hosts = needs a path"));
}
