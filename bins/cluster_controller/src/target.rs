//! Which nodes a command acts on: `--target SPEC`, by name or by role.
//!
//! | SPEC | nodes |
//! |---|---|
//! | `all` | every node |
//! | `NAME[,NAME...]` or `name:NAME[,...]` | those nodes |
//! | `role:ROLE` | every node with ROLE |
//! | `random:ROLE` (or `one:ROLE`) | one node with ROLE, picked at random |
//! | `minority[:ROLE]` | a random minority: (n-1)/2 of the n nodes (with ROLE), at least 1 |
//! | `majority[:ROLE]` | a random majority: n/2+1 of them |
//!
//! Several `--target` options add up (each node counted once, in file order).

use kvmfi::clusterconf::{canonical_role, Node, ROLES};
use kvmfi::{Error, Result};
use rand::seq::SliceRandom;
use rand::Rng;

/// A parsed `--target` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    All,
    Names(Vec<String>),
    Role(String),
    Random(String),
    Minority(Option<String>),
    Majority(Option<String>),
}

fn role(text: &str) -> std::result::Result<String, String> {
    canonical_role(text)
        .map(str::to_string)
        .ok_or_else(|| format!("unknown role '{text}'; roles are {}", ROLES.join(", ")))
}

/// Parses SPEC (for clap's value_parser).
pub fn parse(text: &str) -> std::result::Result<Spec, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty target; use all, NAME, role:ROLE, random:ROLE, minority[:ROLE] or majority[:ROLE]".into());
    }
    let (kind, arg) = match t.split_once(':') {
        Some((k, a)) => (k, Some(a)),
        None => (t, None),
    };
    Ok(match (kind, arg) {
        ("all", None) => Spec::All,
        ("role", Some(r)) => Spec::Role(role(r)?),
        ("random" | "one", Some(r)) => Spec::Random(role(r)?),
        ("minority", r) => Spec::Minority(r.map(role).transpose()?),
        ("majority", r) => Spec::Majority(r.map(role).transpose()?),
        ("name", Some(n)) => Spec::Names(names(n)?),
        (_, None) => Spec::Names(names(t)?),
        (k, Some(_)) => {
            return Err(format!(
                "'{text}': unknown target kind '{k}'; use all, NAME, role:ROLE, random:ROLE, minority[:ROLE] or majority[:ROLE]"
            ))
        }
    })
}

fn names(text: &str) -> std::result::Result<Vec<String>, String> {
    let v: Vec<String> = text.split(',').map(|s| s.trim().to_string()).collect();
    if v.iter().any(String::is_empty) {
        return Err(format!("'{text}': an empty node name"));
    }
    Ok(v)
}

/// How many nodes a minority / majority of `n` is.
pub fn minority(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n - 1) / 2).max(1)
    }
}

/// See [`minority`].
pub fn majority(n: usize) -> usize {
    (n / 2 + 1).min(n)
}

/// The nodes `specs` pick out of `nodes` (in file order); an empty `specs`
/// means `default`. Fails (exit 2) for an unknown name, or a role no node has.
pub fn select<R: Rng>(nodes: &[Node], specs: &[Spec], default: &Spec, rng: &mut R) -> Result<Vec<Node>> {
    let specs: Vec<&Spec> = if specs.is_empty() { vec![default] } else { specs.iter().collect() };
    let mut chosen = vec![false; nodes.len()];
    for s in specs {
        let with = |r: &Option<String>| -> Result<Vec<usize>> {
            let v: Vec<usize> = (0..nodes.len()).filter(|&i| r.as_ref().map_or(true, |r| nodes[i].has_role(r))).collect();
            if v.is_empty() {
                return Err(Error::usage(format!(
                    "no node of the cluster has role {}",
                    r.as_deref().unwrap_or("(any)")
                )));
            }
            Ok(v)
        };
        match s {
            Spec::All => chosen.iter_mut().for_each(|c| *c = true),
            Spec::Names(ns) => {
                for n in ns {
                    let i = nodes.iter().position(|x| &x.name == n).ok_or_else(|| {
                        let known: Vec<&str> = nodes.iter().map(|x| x.name.as_str()).collect();
                        Error::usage(format!("no node named '{n}'; the nodes are {}", known.join(", ")))
                    })?;
                    chosen[i] = true;
                }
            }
            Spec::Role(r) => with(&Some(r.clone()))?.into_iter().for_each(|i| chosen[i] = true),
            Spec::Random(r) => {
                let v = with(&Some(r.clone()))?;
                chosen[*v.choose(rng).expect("not empty")] = true;
            }
            Spec::Minority(r) | Spec::Majority(r) => {
                let v = with(r)?;
                let k = if matches!(s, Spec::Minority(_)) { minority(v.len()) } else { majority(v.len()) };
                for &i in v.choose_multiple(rng, k) {
                    chosen[i] = true;
                }
            }
        }
    }
    Ok(nodes.iter().zip(chosen).filter(|(_, c)| *c).map(|(n, _)| n.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cluster() -> Vec<Node> {
        kvmfi::clusterconf::parse(
            "m,10.0.0.1,22,NameNode,ResourceManager\n\
             a,10.0.0.2,22,DataNode\nb,10.0.0.3,22,DataNode\nc,10.0.0.4,22,DataNode\n\
             d,10.0.0.5,22,DataNode\ne,10.0.0.6,22,ManagementServer\n",
        )
        .unwrap()
    }

    fn names(v: &[Node]) -> Vec<&str> {
        v.iter().map(|n| n.name.as_str()).collect()
    }

    #[test]
    fn parses() {
        assert_eq!(parse("all"), Ok(Spec::All));
        assert_eq!(parse("role:datanode"), Ok(Spec::Role("DataNode".into())));
        assert_eq!(parse("one:DataNode"), Ok(Spec::Random("DataNode".into())));
        assert_eq!(parse("minority"), Ok(Spec::Minority(None)));
        assert_eq!(parse("majority:DataNode"), Ok(Spec::Majority(Some("DataNode".into()))));
        assert_eq!(parse("a,b"), Ok(Spec::Names(vec!["a".into(), "b".into()])));
        assert_eq!(parse("name:all"), Ok(Spec::Names(vec!["all".into()])));
        assert!(parse("role:Nope").is_err());
        assert!(parse("foo:bar").is_err());
        assert!(parse("a,,b").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!((minority(1), majority(1)), (1, 1));
        assert_eq!((minority(3), majority(3)), (1, 2));
        assert_eq!((minority(4), majority(4)), (1, 3));
        assert_eq!((minority(5), majority(5)), (2, 3));
        assert_eq!((minority(32), majority(32)), (15, 17));
    }

    #[test]
    fn selects() {
        let c = cluster();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let sel = |specs: &[&str], rng: &mut rand::rngs::StdRng| {
            let s: Vec<Spec> = specs.iter().map(|t| parse(t).unwrap()).collect();
            select(&c, &s, &Spec::All, rng)
        };
        assert_eq!(names(&sel(&[], &mut rng).unwrap()).len(), 6);
        assert_eq!(names(&sel(&["role:DataNode"], &mut rng).unwrap()), ["a", "b", "c", "d"]);
        assert_eq!(names(&sel(&["e", "m"], &mut rng).unwrap()), ["m", "e"]);
        let one = sel(&["random:DataNode"], &mut rng).unwrap();
        assert_eq!(one.len(), 1);
        assert!(one[0].has_role("DataNode"));
        assert_eq!(sel(&["minority:DataNode"], &mut rng).unwrap().len(), 1);
        assert_eq!(sel(&["majority:DataNode"], &mut rng).unwrap().len(), 3);
        assert_eq!(sel(&["majority"], &mut rng).unwrap().len(), 4);
        assert!(sel(&["zz"], &mut rng).unwrap_err().to_string().contains("no node named 'zz'"));
        assert!(sel(&["role:KVMHost"], &mut rng).unwrap_err().to_string().contains("no node of the cluster has role KVMHost"));
        // Over many draws, every DataNode gets picked.
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(sel(&["random:DataNode"], &mut rng).unwrap()[0].name.clone());
        }
        assert_eq!(seen.len(), 4);
    }
}
