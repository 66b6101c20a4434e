//! The docker driver's `config` as drover's agent reads it: which keys it
//! applies (validation warns on the rest, so nothing a job file says is
//! silently dropped), and `volumes` entries with their Docker options.
//! Shared by `drover validate` and the agent, so both read an entry alike.

/// The docker `config` keys the agent applies. Any other key is accepted by
/// the parser but ignored, and `drover validate` warns about it.
pub const APPLIED_CONFIG_KEYS: [&str; 24] = [
    "image",
    "command",
    "args",
    "entrypoint",
    "network_mode",
    "hostname",
    "work_dir",
    "privileged",
    "pid_mode",
    "ports",
    "volumes",
    "mount",
    "mounts",
    "labels",
    "auth",
    "auth_soft_fail",
    "force_pull",
    "pids_limit",
    "readonly_rootfs",
    "cap_add",
    "cap_drop",
    "ipc_mode",
    "devices",
    "runtime",
];

/// The most `devices` one task may map.
pub const MAX_DEVICES: usize = 64;

/// One `devices` entry: a device file of the node mapped into the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEntry {
    pub host_path: String,
    /// Where the task sees it; the host path when not given.
    pub container_path: String,
    /// Some of `r`, `w`, `m`; `rwm` when not given.
    pub cgroup_permissions: String,
}

/// Parses a task's `devices` list, as Nomad's docker driver takes it.
pub fn parse_devices(value: &serde_json::Value) -> Result<Vec<DeviceEntry>, String> {
    let list = value
        .as_array()
        .ok_or("a list of { host_path, container_path, cgroup_permissions }")?;
    if list.len() > MAX_DEVICES {
        return Err(format!("at most {MAX_DEVICES} devices, got {}", list.len()));
    }
    list.iter()
        .map(|entry| {
            let field = |key: &str| entry.get(key).and_then(serde_json::Value::as_str);
            let host_path = field("host_path")
                .filter(|p| p.starts_with("/dev/"))
                .ok_or("each needs host_path, a device under /dev/")?;
            let container_path = field("container_path").unwrap_or(host_path);
            if !container_path.starts_with('/') {
                return Err(format!(
                    "container_path {container_path:?} must be absolute"
                ));
            }
            let permissions = field("cgroup_permissions").unwrap_or("rwm");
            if permissions.is_empty() || !permissions.chars().all(|c| "rwm".contains(c)) {
                return Err(format!(
                    "cgroup_permissions {permissions:?}: some of r, w and m"
                ));
            }
            Ok(DeviceEntry {
                host_path: host_path.to_string(),
                container_path: container_path.to_string(),
                cgroup_permissions: permissions.to_string(),
            })
        })
        .collect()
}

/// Docker's bind mount options, by class: at most one of each may be given.
const OPTION_CLASSES: [(&str, &[&str]); 4] = [
    ("read/write mode", &["ro", "rw"]),
    ("SELinux label", &["z", "Z"]),
    (
        "propagation",
        &[
            "private", "rprivate", "shared", "rshared", "slave", "rslave",
        ],
    ),
    // Accepted by Docker on Linux and without effect there.
    ("consistency", &["consistent", "cached", "delegated"]),
];

/// One `volumes` entry: `source:target[:opt,opt…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeEntry {
    /// As written: absolute, or relative to the task directory.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// Every option but `ro`/`rw`, in the order written (`z`, `rslave`, …).
    pub options: Vec<String>,
}

/// Parses a `volumes` entry, refusing options Docker would refuse for a
/// bind mount (drover mounts host paths only, so `nocopy`, which applies to
/// named volumes, is refused too).
pub fn parse_volume(entry: &str) -> Result<VolumeEntry, String> {
    let mut parts = entry.splitn(3, ':');
    let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "volume {entry:?} is not \"/host/path:/container/path[:options]\""
        ));
    };
    if source.is_empty() || target.is_empty() {
        return Err(format!(
            "volume {entry:?} is not \"/host/path:/container/path[:options]\""
        ));
    }
    let mut volume = VolumeEntry {
        source: source.to_string(),
        target: target.to_string(),
        read_only: false,
        options: Vec::new(),
    };
    let Some(options) = parts.next() else {
        return Ok(volume);
    };
    let mut seen: Vec<&str> = Vec::new();
    for option in options.split(',') {
        if option == "nocopy" {
            return Err(format!(
                "volume {entry:?}: option \"nocopy\" applies to named Docker volumes; drover mounts host paths (bind mounts), remove it"
            ));
        }
        let Some((class, _)) = OPTION_CLASSES
            .iter()
            .find(|(_, members)| members.contains(&option))
        else {
            let all: Vec<&str> = OPTION_CLASSES
                .iter()
                .flat_map(|(_, m)| m.iter().copied())
                .collect();
            return Err(format!(
                "volume {entry:?}: unknown option {option:?}; Docker bind mounts take {}{}",
                crate::validate::quoted_list(&all),
                crate::diagnostic::suggestion_suffix(option, all.iter().copied())
            ));
        };
        if seen.contains(class) {
            return Err(format!(
                "volume {entry:?}: more than one {class} option; keep one"
            ));
        }
        seen.push(class);
        match option {
            "ro" => volume.read_only = true,
            "rw" => {}
            other => volume.options.push(other.to_string()),
        }
    }
    Ok(volume)
}

/// Docker's `propagation` values for a `mount` block's `bind_options`.
pub const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// A `mount` block's `bind_options { propagation }`, written once (an
/// object) or, by odd HCL, repeated (a list: the first counts).
pub fn bind_propagation(mount: &serde_json::Value) -> Option<&str> {
    let options = match mount.get("bind_options")? {
        serde_json::Value::Array(items) => items.first()?,
        other => other,
    };
    options.get("propagation")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(entry: &str) -> (String, String, bool, Vec<String>) {
        let v = parse_volume(entry).expect(entry);
        (v.source, v.target, v.read_only, v.options)
    }

    #[test]
    fn options_are_kept_not_dropped() {
        let s = |v: &str| v.to_string();
        assert_eq!(ok("/a:/b"), (s("/a"), s("/b"), false, vec![]));
        assert_eq!(ok("/a:/b:ro"), (s("/a"), s("/b"), true, vec![]));
        assert_eq!(ok("/a:/b:rw"), (s("/a"), s("/b"), false, vec![]));
        assert_eq!(
            ok("/a:/b:ro,rslave"),
            (s("/a"), s("/b"), true, vec![s("rslave")])
        );
        assert_eq!(
            ok("local/x:/b:Z,shared"),
            (s("local/x"), s("/b"), false, vec![s("Z"), s("shared")])
        );
        assert_eq!(ok("/a:/b:cached").3, vec![s("cached")]);
    }

    #[test]
    fn unknown_duplicate_and_volume_only_options_are_refused() {
        assert_eq!(
            parse_volume("/a:/b:ro,rslav").expect_err("refused"),
            "volume \"/a:/b:ro,rslav\": unknown option \"rslav\"; Docker bind mounts take \"ro\", \"rw\", \"z\", \"Z\", \"private\", \"rprivate\", \"shared\", \"rshared\", \"slave\", \"rslave\", \"consistent\", \"cached\", \"delegated\" (did you mean \"rslave\"?)"
        );
        assert!(parse_volume("/a:/b:ro,rw")
            .expect_err("refused")
            .contains("more than one read/write mode option"));
        assert!(parse_volume("/a:/b:shared,slave")
            .expect_err("refused")
            .contains("more than one propagation option"));
        assert!(parse_volume("/a:/b:nocopy")
            .expect_err("refused")
            .contains("named Docker volumes"));
        assert!(parse_volume("/a:/b:").is_err(), "an empty option");
        assert!(parse_volume("/a").is_err());
        assert!(parse_volume(":/b").is_err());
    }
}
