//! A job's output: every running allocation's, interleaved, each line
//! named by its allocation and task (`drover logs job/NAME -f`).

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};

use super::super::parts::output_panel;
use super::super::{url_component, Viewer};
use super::{header, read_job};
use crate::ui::calls::Ui;

pub async fn logs(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    match read_job(&ui, viewer.token(), &namespace, &name).await {
        Ok(_) => viewer.show(
            &format!("Logs of {name}"),
            "/ui/jobs",
            "job",
            render_logs(&namespace, &name),
        ),
        Err(e) => viewer.error(&e),
    }
}

/// The page (pure): the stream is the page script's.
pub fn render_logs(namespace: &str, name: &str) -> Markup {
    let src = format!(
        "/ui/job-logs/{}/{}",
        url_component(namespace),
        url_component(name)
    );
    html! {
        (header(namespace, name, "/logs"))
        p.muted { "Every running allocation's output, each line named by its allocation and task; allocations that start later join. The same as " code { "drover logs job/" (name) " -f" } "." }
        (output_panel(&format!("job-logs-{name}"), &src, &format!("Output of job {name}")))
    }
}
