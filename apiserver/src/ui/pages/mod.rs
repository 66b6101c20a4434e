//! The views. Each handler asks the API (as the visitor) and hands what it
//! answered to a pure render function; a section the visitor's token may
//! not read says so instead of failing the page.
//!
//! - [`overview`]: the cluster at a glance.
//! - [`jobs`]: the jobs list.
//! - [`job`]: one job's pages (summary, versions, definition).
//! - [`allocs`]: one allocation, its tasks' events and output.
//! - [`usage`]: an allocation's CPU and memory over the last minutes, as
//!   inline SVG charts.
//! - [`nodes`]: the nodes list.
//! - [`deployments`]: deployments across jobs, with their levers.
//! - [`run`]: the job editor, its plan and the button that runs it.
//! - [`services`]: the service catalog, instances and their checks.
//! - [`search`]: jobs, nodes and allocations by name or id.
//! - [`topology`]: every node filled by its allocations' CPU and memory.
//! - [`parts`]: what several views show (a diff, placement failures).

pub(crate) mod allocs;
pub(crate) mod deployments;
pub(crate) mod job;
pub(crate) mod jobs;
pub(crate) mod nodes;
pub(crate) mod overview;
pub(crate) mod parts;
pub(crate) mod run;
pub(crate) mod search;
pub(crate) mod services;
pub(crate) mod topology;
pub(crate) mod usage;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::calls::{Ui, Visitor};
use super::layout::{error_page, respond, Fragment, TokenLink, View};

/// The wire name of an enum value (`running`, `ready`), as the API writes
/// it.
pub(crate) fn wire_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Counts by name, in name order.
pub(crate) fn count_by(names: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for name in names {
        *out.entry(name).or_insert(0) += 1;
    }
    out
}

/// Who is looking and how: the token from the UI's cookie, and whether
/// only `<main>` is asked for (a live refresh). With ACLs on and no token
/// yet, the request goes to the token page instead.
pub struct Viewer {
    pub token: Option<String>,
    pub fragment: Fragment,
    /// Whether the servers run with ACLs.
    pub acl: bool,
}

impl Viewer {
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The view `main`, in the page shell (or alone, for a refresh).
    pub fn show(&self, title: &str, current: &str, live: &str, main: maud::Markup) -> Response {
        respond(
            self.fragment,
            View {
                title,
                current,
                token_link: self.token_link(),
                live: Some(live),
                main,
            },
        )
    }

    /// A view that does not refresh itself (an editor: a refresh would
    /// wipe what the visitor typed).
    pub fn show_still(&self, title: &str, current: &str, main: maud::Markup) -> Response {
        respond(
            self.fragment,
            View {
                title,
                current,
                token_link: self.token_link(),
                live: None,
                main,
            },
        )
    }

    /// What the API refused or failed, in the page shell.
    pub fn error(&self, e: &super::calls::CallError) -> Response {
        error_page(e.status, &e.message, self.token_link())
    }

    fn token_link(&self) -> TokenLink {
        TokenLink::of(self.acl, self.token.is_some())
    }
}

impl FromRequestParts<Ui> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ui: &Ui) -> Result<Self, Self::Rejection> {
        let Ok(Visitor(token)) = Visitor::from_request_parts(parts, ui).await;
        let Ok(fragment) = Fragment::from_request_parts(parts, ui).await;
        if ui.acl && token.is_none() {
            return Err(Redirect::to("/ui/token").into_response());
        }
        Ok(Viewer {
            token,
            fragment,
            acl: ui.acl,
        })
    }
}

/// `text` for a query string value.
pub(crate) fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A short id, as the CLI prints them.
pub(crate) fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// An allocation's short id, linked to its page.
pub(crate) fn alloc_link(id: &str) -> maud::Markup {
    maud::html! {
        a href=(format!("/ui/alloc/{}", url_component(id))) { code { (short_id(id)) } }
    }
}

/// A node's name, linked to its page.
pub(crate) fn node_link(id: &str, name: &str) -> maud::Markup {
    maud::html! {
        a href=(format!("/ui/node/{}", url_component(id))) { (name) }
    }
}

/// An event's time as the pages show it.
pub(crate) fn when(time: Option<chrono::DateTime<chrono::Utc>>) -> String {
    time.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// A page the UI does not have.
pub async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "no such page", TokenLink::Hidden)
}

#[cfg(test)]
mod tests;
