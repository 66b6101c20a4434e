//! Which object a user means by a short reference: a full id, a unique id
//! prefix, or a name. Shared by the apiserver (`/v1/allocation/{id}`,
//! `/v1/node/{id}`) and the CLI so both answer the same way.

/// What the resolver needs to know of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    /// Desired to run (not stopped or evicted): a name refers to this one
    /// rather than to allocations it replaced.
    pub live: bool,
}

/// Why a reference picks no single object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    NotFound(String),
    /// The message lists the candidates, `id name` per line.
    Ambiguous {
        message: String,
        ids: Vec<String>,
    },
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::NotFound(m) | ResolveError::Ambiguous { message: m, .. } => {
                f.write_str(m)
            }
        }
    }
}

/// Picks the allocation `query` means (pure): a full id, a unique id
/// prefix, or a name (the live one when replacements share it).
pub fn resolve_alloc(query: &str, candidates: &[Candidate]) -> Result<usize, String> {
    resolve("allocation", query, candidates).map_err(|e| e.to_string())
}

/// Like [`resolve_alloc`] for any kind (`kind` names it in messages).
pub fn resolve(kind: &str, query: &str, candidates: &[Candidate]) -> Result<usize, ResolveError> {
    if let Some(i) = candidates.iter().position(|c| c.id == query) {
        return Ok(i);
    }
    let by_prefix: Vec<usize> = (0..candidates.len())
        .filter(|&i| !query.is_empty() && candidates[i].id.starts_with(query))
        .collect();
    let by_name: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].name == query)
        .collect();
    let matches = match (by_prefix.len(), by_name.len()) {
        (1, _) => return Ok(by_prefix[0]),
        (0, 0) => {
            return Err(ResolveError::NotFound(format!(
                "no {kind} with id, id prefix or name {query:?}"
            )))
        }
        (0, _) => {
            let live: Vec<usize> = by_name
                .iter()
                .copied()
                .filter(|&i| candidates[i].live)
                .collect();
            if let [one] = live.as_slice() {
                return Ok(*one);
            }
            by_name
        }
        _ => by_prefix,
    };
    let mut listed: Vec<(String, String)> = matches
        .iter()
        .map(|&i| (candidates[i].id.clone(), candidates[i].name.clone()))
        .collect();
    listed.sort();
    let lines: Vec<String> = listed
        .iter()
        .map(|(id, name)| format!("  {id} {name}"))
        .collect();
    Err(ResolveError::Ambiguous {
        message: format!(
            "{query:?} matches {} {kind}s; give more of the id:\n{}",
            matches.len(),
            lines.join("\n")
        ),
        ids: listed.into_iter().map(|(id, _)| id).collect(),
    })
}

/// Picks the task (pure): the one asked for, or the group's only task.
/// An empty `tasks` means the job is unknown: the name asked for is trusted.
pub fn resolve_task(asked: Option<&str>, tasks: &[String], alloc: &str) -> Result<String, String> {
    match asked {
        Some(t) if tasks.is_empty() || tasks.iter().any(|x| x == t) => Ok(t.to_string()),
        Some(t) => Err(format!(
            "allocation {alloc} has no task {t:?}; its tasks: {}",
            tasks.join(", ")
        )),
        None => match tasks {
            [one] => Ok(one.clone()),
            [] => Err(format!(
                "cannot tell the tasks of allocation {alloc} (its job is gone); name the task"
            )),
            _ => Err(format!(
                "allocation {alloc} has {} tasks; name one: {}",
                tasks.len(),
                tasks.join(", ")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, name: &str, live: bool) -> Candidate {
        Candidate {
            id: id.into(),
            name: name.into(),
            live,
        }
    }

    fn allocs() -> Vec<Candidate> {
        vec![
            c("abc123-1", "web.front[0]", false),
            c("abd456-2", "web.front[0]", true),
            c("ff0000-3", "web.front[1]", true),
            c("ff0011-4", "api.main[0]", true),
        ]
    }

    #[test]
    fn a_full_id_or_a_unique_prefix_picks_one() {
        let a = allocs();
        assert_eq!(resolve_alloc("abd456-2", &a), Ok(1));
        assert_eq!(resolve_alloc("abc", &a), Ok(0));
        assert_eq!(resolve_alloc("ff001", &a), Ok(3));
    }

    #[test]
    fn an_ambiguous_prefix_lists_the_candidates_with_their_names() {
        let e = resolve_alloc("ff00", &allocs()).expect_err("ambiguous");
        assert!(e.contains("matches 2 allocations"), "{e}");
        assert!(e.contains("ff0000-3 web.front[1]"), "{e}");
        assert!(e.contains("ff0011-4 api.main[0]"), "{e}");
        match resolve("allocation", "ff00", &allocs()) {
            Err(ResolveError::Ambiguous { ids, .. }) => assert_eq!(ids, ["ff0000-3", "ff0011-4"]),
            other => panic!("expected ambiguous, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_id_says_so() {
        let e = resolve_alloc("zzz", &allocs()).expect_err("unknown");
        assert_eq!(e, "no allocation with id, id prefix or name \"zzz\"");
        assert!(resolve_alloc("zzz", &[]).is_err());
        assert!(matches!(
            resolve("node", "zzz", &allocs()),
            Err(ResolveError::NotFound(m)) if m == "no node with id, id prefix or name \"zzz\""
        ));
    }

    #[test]
    fn an_empty_query_matches_nothing() {
        assert!(matches!(
            resolve("node", "", &allocs()),
            Err(ResolveError::NotFound(_))
        ));
    }

    #[test]
    fn a_name_picks_the_live_allocation_of_that_name() {
        let a = allocs();
        assert_eq!(resolve_alloc("web.front[0]", &a), Ok(1));
        assert_eq!(resolve_alloc("api.main[0]", &a), Ok(3));
        let both_stopped = vec![c("a-1", "x.y[0]", false), c("b-2", "x.y[0]", false)];
        let e = resolve_alloc("x.y[0]", &both_stopped).expect_err("ambiguous name");
        assert!(e.contains("a-1 x.y[0]") && e.contains("b-2 x.y[0]"), "{e}");
    }

    #[test]
    fn the_task_is_the_only_one_or_the_one_named() {
        let one = vec!["web".to_string()];
        let two = vec!["web".to_string(), "sidecar".to_string()];
        assert_eq!(resolve_task(None, &one, "a1"), Ok("web".into()));
        assert_eq!(
            resolve_task(Some("sidecar"), &two, "a1"),
            Ok("sidecar".into())
        );
        let e = resolve_task(None, &two, "a1").expect_err("which task");
        assert_eq!(e, "allocation a1 has 2 tasks; name one: web, sidecar");
        let e = resolve_task(Some("db"), &two, "a1").expect_err("no such task");
        assert_eq!(
            e,
            "allocation a1 has no task \"db\"; its tasks: web, sidecar"
        );
        assert_eq!(resolve_task(Some("db"), &[], "a1"), Ok("db".into()));
        assert!(resolve_task(None, &[], "a1").is_err());
    }
}
