//! The cloud database: connection limits lowered (the exact previous values
//! come back on restore) and a table lock held by a session that stays open.

use crate::TOOL;
use kvmfi::injector::stress;
use kvmfi::injector::Ctx;
use kvmfi::journal::{self, Fault, Step};
use kvmfi::sqldb::{self, Db, DbOpts};
use kvmfi::undo::processes::tag_arg;
use kvmfi::{Error, Result};

/// The value of `rows[0][0]` as a number.
fn first_number(rows: &[Vec<String>], what: &str) -> Result<u64> {
    rows.first()
        .and_then(|r| r.first())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::failed(format!("cannot read {what} from the server")))
}

/// `db-limit`.
pub fn db_limit(ctx: &Ctx, user_conns: Option<u32>, max_conns: Option<u32>, user: &str, o: &DbOpts) -> Result<()> {
    let user_conns = match (user_conns, max_conns) {
        (None, None) => Some(1),
        (u, _) => u,
    };
    ctx.require_root()?;
    let db = Db::new(o)?;
    // A second limit would remember the first one's values as "original".
    if journal::read_entries(&journal::dir()).unwrap_or_default().iter().any(|e| e.tool == TOOL && e.kind == "db-limit") {
        return Err(Error::failed(
            "a database limit is already in force; run db-restore first, so the original values stay known",
        ));
    }
    // Read what is there now: that is exactly what the undo puts back.
    let mut apply = Vec::new();
    let mut undo = Vec::new();
    let mut desc = Vec::new();
    if let Some(n) = max_conns {
        let old = first_number(&db.query("SELECT @@GLOBAL.max_connections")?, "max_connections")?;
        apply.push(Step::Run { argv: db.argv(&format!("SET GLOBAL max_connections = {n}")), stdin: None });
        undo.push(Step::Run { argv: db.argv(&format!("SET GLOBAL max_connections = {old}")), stdin: None });
        desc.push(format!("GLOBAL max_connections {old} -> {n}"));
    }
    if let Some(n) = user_conns {
        let rows = db.query(&format!(
            "SELECT Host, max_user_connections FROM mysql.user WHERE User = {}",
            sqldb::quote(user)
        ))?;
        if rows.is_empty() {
            return Err(Error::not_found(format!(
                "the database has no account '{user}'; give the account CloudStack uses with --db-user"
            )));
        }
        for row in rows {
            let (host, old) = match row.as_slice() {
                [h, v] => (h.clone(), v.trim().parse::<u64>().map_err(|_| Error::failed(format!("bad limit '{v}' for {user}@{h}")))?),
                _ => return Err(Error::failed("unexpected answer from mysql.user")),
            };
            let account = format!("{}@{}", sqldb::quote(user), sqldb::quote(&host));
            apply.push(Step::Run { argv: db.argv(&format!("ALTER USER {account} WITH MAX_USER_CONNECTIONS {n}")), stdin: None });
            undo.push(Step::Run { argv: db.argv(&format!("ALTER USER {account} WITH MAX_USER_CONNECTIONS {old}")), stdin: None });
            desc.push(format!("{user}@{host} MAX_USER_CONNECTIONS {old} -> {n}"));
        }
    }
    // Undo in reverse order of the changes.
    undo.reverse();
    ctx.inject_once(|e| e.kind == "db-limit", |_| {
        Ok(Fault { kind: "db-limit".into(), target: "cloud-db".into(), desc: desc.join(", "), apply, undo })
    })
}

/// db-lock: a detached helper keeps a client session open that holds
/// `LOCK TABLES db.table WRITE`; the undo kills it, which ends the session
/// and so the lock.
pub fn db_lock(ctx: &Ctx, name: &str, table: &str, o: &DbOpts) -> Result<()> {
    ctx.require_root()?;
    let db = Db::new(o)?;
    let found = db.query(&format!(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {} AND table_name = {}",
        sqldb::quote(name),
        sqldb::quote(table)
    ))?;
    if found.first().and_then(|r| r.first()).map(|v| v.trim()) != Some("1") {
        return Err(Error::not_found(format!("the database has no table {name}.{table}; give --db-name and --table")));
    }
    let mut client = db.argv("");
    client.truncate(client.len() - 2); // without "-e ''": statements come on stdin
    client.push("--unbuffered".into());
    client.push(name.into());
    let exe = std::env::current_exe().map_err(|e| Error::io("finding this program", e))?.to_string_lossy().into_owned();
    ctx.inject_once(|e| e.kind == "db-lock", |id| {
        let tag = stress::helper_tag(id);
        let mut argv = vec![
            exe.clone(),
            stress::HELPER_ARG.into(),
            "hold".into(),
            "--script".into(),
            format!("LOCK TABLES `{name}`.`{table}` WRITE;\nSELECT 'kvmfi-locked';\n"),
            "--until".into(),
            "kvmfi-locked".into(),
            tag_arg(&tag),
            "--".into(),
        ];
        argv.extend(client.iter().cloned());
        Ok(Fault {
            kind: "db-lock".into(),
            target: "cloud-db".into(),
            desc: format!("LOCK TABLES {name}.{table} WRITE, held by a session that stays open until db-unlock"),
            apply: vec![Step::Spawn { argv, tag: tag.clone() }],
            undo: vec![Step::KillTagged { tag }],
        })
    })
}
