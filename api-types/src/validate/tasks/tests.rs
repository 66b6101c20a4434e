use super::super::testutil::{assert_diags, base_job, group, messages, task, GROUP, TASK};
use crate::group::VolumeRequest;
use crate::task::{Artifact, Lifecycle, Template, VolumeMount};

fn lifecycle(hook: &str, sidecar: bool) -> Option<Lifecycle> {
    Some(Lifecycle {
        hook: hook.into(),
        sidecar,
    })
}

#[test]
fn drivers() {
    assert_diags(
        |job| task(job).driver.clear(),
        &[&format!(
            "error: {TASK}: driver is empty; set driver to \"docker\""
        )],
    );
    assert_diags(
        |job| task(job).driver = "dokcer".into(),
        &[&format!("error: {TASK}: driver \"dokcer\" is not a known task driver (did you mean \"docker\"?); drover runs \"docker\"")],
    );
    assert_diags(
        |job| task(job).driver = "exec".into(),
        &[&format!("warning: {TASK}: driver \"exec\" is not supported by drover yet (it runs \"docker\"); no node will run this task")],
    );
}

#[test]
fn docker_config() {
    assert_diags(
        |job| {
            task(job).config.remove("image");
        },
        &[&format!("error: {TASK} config: docker tasks need an image; set config.image, e.g. \"nginx:1.25\"")],
    );
    assert_diags(
        |job| {
            task(job)
                .config
                .insert("image".into(), serde_json::json!(5));
        },
        &[&format!(
            "error: {TASK} config: image must be a non-empty string, e.g. \"nginx:1.25\""
        )],
    );
    assert_diags(
        |job| {
            task(job).config.insert("ports".into(), serde_json::json!("web"));
        },
        &[&format!("error: {TASK} config: ports must be a list of port labels of the group network, e.g. [\"http\"]")],
    );
    assert_diags(
        |job| {
            task(job)
                .config
                .insert("ports".into(), serde_json::json!([80]));
        },
        &[&format!(
            "error: {TASK} config: ports must list port labels (strings); 80 is not one"
        )],
    );
}

#[test]
fn group_task_rules() {
    assert_diags(
        |job| group(job).tasks.clear(),
        &[&format!(
            "error: {GROUP}: the group has no task; add at least one task"
        )],
    );
    assert_diags(
        |job| {
            let mut second = task(job).clone();
            second.name = "sidecar".into();
            second.services.clear();
            second.leader = true;
            task(job).leader = true;
            group(job).tasks.push(second);
        },
        &[&format!("error: {GROUP}: more than one task is marked leader (\"api\", \"sidecar\"); mark at most one")],
    );
    assert_diags(
        |job| task(job).lifecycle = lifecycle("prestart", false),
        &[&format!("error: {GROUP}: every task has a lifecycle block, so the group has no main task; remove lifecycle from at least one task")],
    );
}

#[test]
fn lifecycle_hooks() {
    let with_main = |hook: &'static str, sidecar: bool| {
        move |job: &mut crate::job::Job| {
            let mut hooked = task(job).clone();
            hooked.name = "init".into();
            hooked.services.clear();
            hooked.lifecycle = lifecycle(hook, sidecar);
            group(job).tasks.push(hooked);
        }
    };
    let init = "job \"billing\" group \"api\" task \"init\" lifecycle";
    assert_diags(with_main("prestart", true), &[]);
    assert_diags(with_main("poststop", false), &[]);
    assert_diags(
        with_main("poststop", true),
        &[&format!("error: {init}: sidecar is only valid with the prestart or poststart hook; remove sidecar or change hook")],
    );
    assert_diags(
        with_main("prestrat", false),
        &[&format!("error: {init}: hook \"prestrat\" is not valid; use one of: \"prestart\", \"poststart\", \"poststop\" (did you mean \"prestart\"?)")],
    );
}

#[test]
fn templates() {
    let at = format!("error: {TASK} template[0]");
    let template = |source: &str, data: &str, destination: &str| Template {
        source: source.into(),
        data: data.into(),
        destination: destination.into(),
        ..Template::default()
    };
    let cases: Vec<(Template, Vec<String>)> = vec![
        (template("", "x={{ env \"A\" }}", "local/a.env"), vec![]),
        (template("local/a.tpl", "", "local/a"), vec![]),
        (template("local/a.tpl", "data", "local/a"), vec![format!("{at}: set either source or data, not both; keep source (a file) or data (inline text)")]),
        (template("", "", "local/a"), vec![format!("{at}: set source (a template file) or data (the template text)")]),
        (template("", "d", ""), vec![format!("{at}: destination is empty; set the file to render to, e.g. \"local/config.yml\"")]),
        (Template { change_mode: "signal".into(), ..template("", "d", "local/a") }, vec![format!("{at}: change_mode \"signal\" needs change_signal, e.g. \"SIGHUP\"")]),
        (Template { change_mode: "signal".into(), change_signal: "hup".into(), ..template("", "d", "local/a") }, vec![format!("{at}: change_signal \"hup\" is not a signal name; write e.g. \"SIGHUP\"")]),
        (Template { change_mode: "reload".into(), ..template("", "d", "local/a") }, vec![format!("{at}: change_mode \"reload\" is not valid; use one of: \"noop\", \"restart\", \"signal\", \"script\"")]),
        (Template { perms: "0999".into(), ..template("", "d", "local/a") }, vec![format!("{at}: perms \"0999\" is not an octal file mode; write e.g. \"0644\"")]),
        // What the node would fail on is named at submit, as a warning.
        (
            template("", "db={{ service \"db\" }}", "local/a"),
            vec![format!("warning: {TASK} template[0]: data, line 1, col 7: function \"service\" is not supported yet (drover renders env only; the catalog functions come with service registration); the task will fail on its node until this is changed")],
        ),
        (
            template("", &"{{ if true }}".repeat(100), "local/a"),
            vec![format!("warning: {TASK} template[0]: data, line 1, col 836: {{{{ if }}}} blocks nest more than 64 deep; flatten the template; the task will fail on its node until this is changed")],
        ),
    ];
    for (template, expected) in cases {
        let mut job = base_job();
        task(&mut job).templates.push(template);
        assert_eq!(messages(&job), expected);
    }
}

#[test]
fn artifacts_and_kill_signal() {
    assert_diags(
        |job| {
            task(job).artifacts.push(Artifact {
                mode: "folder".into(),
                ..Artifact::default()
            })
        },
        &[
            &format!("error: {TASK} artifact[0]: source is empty; set the URL to fetch"),
            &format!("error: {TASK} artifact[0]: mode \"folder\" is not valid; use one of: \"\", \"any\", \"file\", \"dir\""),
        ],
    );
    assert_diags(|job| task(job).kill_signal = "SIGINT".into(), &[]);
    assert_diags(
        |job| task(job).kill_signal = "TERM".into(),
        &[&format!(
            "error: {TASK}: kill_signal \"TERM\" is not a signal name; write e.g. \"SIGTERM\""
        )],
    );
}

#[test]
fn volumes_and_mounts() {
    let volume = |kind: &str, source: &str| VolumeRequest {
        volume_type: kind.into(),
        source: source.into(),
        ..VolumeRequest::default()
    };
    let mount = |name: &str, destination: &str| VolumeMount {
        volume: name.into(),
        destination: destination.into(),
        ..VolumeMount::default()
    };
    assert_diags(
        |job| {
            group(job)
                .volumes
                .insert("data".into(), volume("host", "pg-data"));
            task(job).volume_mounts.push(mount("data", "/var/lib/pg"));
        },
        &[],
    );
    assert_diags(
        |job| {
            group(job).volumes.insert("data".into(), volume("nfs", ""));
            task(job).volume_mounts.push(mount("dta", ""));
        },
        &[
            &format!("error: {GROUP} volume \"data\": type \"nfs\" is not valid; use one of: \"host\", \"csi\""),
            &format!("error: {GROUP} volume \"data\": source is empty; name the host volume or CSI volume to mount"),
            &format!("error: {TASK} volume_mount[0]: volume \"dta\" is not defined in the group (defined: \"data\")"),
            &format!("error: {TASK} volume_mount[0]: destination is empty; set the path inside the task, e.g. \"/data\""),
        ],
    );
    assert_diags(
        |job| task(job).volume_mounts.push(mount("data", "/d")),
        &[&format!("error: {TASK} volume_mount[0]: volume \"data\" is not defined in the group (it defines no volumes)")],
    );
    assert_diags(
        |job| {
            let mut csi = volume("csi", "db");
            csi.access_mode = "single-node".into();
            group(job).volumes.insert("db".into(), csi);
        },
        &[&format!("error: {GROUP} volume \"db\": access_mode \"single-node\" is not valid; use one of: \"\", \"single-node-reader-only\", \"single-node-writer\", \"multi-node-reader-only\", \"multi-node-single-writer\", \"multi-node-multi-writer\" (did you mean \"single-node-writer\"?)")],
    );
}
