//! Secrets a job carries that no read hands back: the docker driver's
//! registry credentials (`config.auth.password`, `identity_token`). Every
//! answer and event that shows a job goes through [`job`] (typed) or
//! [`job_json`] (stored bytes); the agent still reads the stored job with
//! them. A job sent back with the marker in place (read, changed, written)
//! keeps the stored secret ([`restore`]).

use serde_json::Value;

use crate::job::Job;

/// What a secret reads as.
pub const REDACTED: &str = "<redacted>";

/// The keys of an `auth` block that are secret.
const SECRET_KEYS: &[&str] = &["password", "identity_token"];

/// The `auth` blocks of a task config (an object, or HCL's repeated block).
fn auth_blocks(
    config: &mut serde_json::Map<String, Value>,
) -> Vec<&mut serde_json::Map<String, Value>> {
    match config.get_mut("auth") {
        Some(Value::Object(map)) => vec![map],
        Some(Value::Array(items)) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        _ => Vec::new(),
    }
}

fn redact_config(config: &mut serde_json::Map<String, Value>) {
    for auth in auth_blocks(config) {
        for key in SECRET_KEYS {
            if let Some(v) = auth.get_mut(*key) {
                *v = Value::String(REDACTED.into());
            }
        }
    }
}

/// `job` with its secrets replaced by [`REDACTED`].
pub fn job(job: &mut Job) {
    for group in &mut job.spec.groups {
        for task in &mut group.tasks {
            redact_config(&mut task.config);
        }
    }
}

/// The same on a job as JSON (a stored value, an event's payload).
pub fn job_json(value: &mut Value) {
    let Some(groups) = value
        .pointer_mut("/spec/groups")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for group in groups {
        let Some(tasks) = group.get_mut("tasks").and_then(Value::as_array_mut) else {
            continue;
        };
        for task in tasks {
            if let Some(config) = task.get_mut("config").and_then(Value::as_object_mut) {
                redact_config(config);
            }
        }
    }
}

/// Puts back, from `stored`, each secret `submitted` carries as the
/// marker (same group, task and key); a secret it changed stays changed.
pub fn restore(submitted: &mut Job, stored: &Job) {
    for group in &mut submitted.spec.groups {
        let Some(old_group) = stored.spec.groups.iter().find(|g| g.name == group.name) else {
            continue;
        };
        for task in &mut group.tasks {
            let Some(old_task) = old_group.tasks.iter().find(|t| t.name == task.name) else {
                continue;
            };
            let mut old_config = old_task.config.clone();
            let old_auth = auth_blocks(&mut old_config);
            for (i, auth) in auth_blocks(&mut task.config).into_iter().enumerate() {
                for key in SECRET_KEYS {
                    let marked = auth.get(*key).and_then(Value::as_str) == Some(REDACTED);
                    let old = old_auth.get(i).and_then(|a| a.get(*key)).cloned();
                    if let (true, Some(old)) = (marked, old) {
                        auth.insert((*key).to_string(), old);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_auth(password: &str) -> Job {
        let mut job = crate::mock::job("web", 1);
        job.spec.groups[0].tasks[0].config.insert(
            "auth".into(),
            json!({"username": "ci", "password": password, "server_address": "r.example"}),
        );
        job
    }

    #[test]
    fn the_password_is_hidden_and_the_rest_kept() {
        let mut j = with_auth("s3cret");
        job(&mut j);
        let auth = &j.spec.groups[0].tasks[0].config["auth"];
        assert_eq!(auth["password"], REDACTED);
        assert_eq!(auth["username"], "ci");
        let mut v = serde_json::to_value(with_auth("s3cret")).expect("json");
        job_json(&mut v);
        assert!(!v.to_string().contains("s3cret"), "{v}");
        // HCL's repeated block form.
        let mut j = with_auth("x");
        j.spec.groups[0].tasks[0]
            .config
            .insert("auth".into(), json!([{"password": "s3cret"}]));
        job(&mut j);
        assert!(!serde_json::to_string(&j).expect("json").contains("s3cret"));
    }

    #[test]
    fn a_job_sent_back_redacted_keeps_the_stored_secret() {
        let stored = with_auth("s3cret");
        let mut read = stored.clone();
        job(&mut read);
        read.spec.groups[0].count = 3;
        restore(&mut read, &stored);
        assert_eq!(
            read.spec.groups[0].tasks[0].config["auth"]["password"],
            "s3cret"
        );
        let mut changed = with_auth("new");
        restore(&mut changed, &stored);
        assert_eq!(
            changed.spec.groups[0].tasks[0].config["auth"]["password"],
            "new"
        );
    }
}
