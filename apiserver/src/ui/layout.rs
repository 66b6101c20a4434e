//! The page shell every view shares: navigation, the token link, the
//! stylesheet and the small script, all embedded in the binary.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

/// The views in the navigation, in order: (path, label).
const NAV: [(&str, &str); 7] = [
    ("/ui", "Overview"),
    ("/ui/jobs", "Jobs"),
    ("/ui/deployments", "Deployments"),
    ("/ui/services", "Services"),
    ("/ui/nodes", "Nodes"),
    ("/ui/topology", "Topology"),
    ("/ui/run", "Run a job"),
];

/// The header's link to the token page: none without ACLs and a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLink {
    Hidden,
    SignIn,
    Token,
}

impl TokenLink {
    pub fn of(acl: bool, signed_in: bool) -> TokenLink {
        match (acl, signed_in) {
            (_, true) => TokenLink::Token,
            (true, false) => TokenLink::SignIn,
            (false, false) => TokenLink::Hidden,
        }
    }
}

/// One rendered view: what goes in `<main>`, and what the shell needs.
pub struct View<'a> {
    pub title: &'a str,
    /// The navigation entry to mark.
    pub current: &'a str,
    pub token_link: TokenLink,
    /// The live page id ([`super::live`]) when the view refreshes itself.
    pub live: Option<&'a str>,
    pub main: Markup,
}

/// The header a page's script sends to fetch only its `<main>`.
pub const FRAGMENT_HEADER: &str = "x-drover-fragment";

/// Whether the request asks for the `<main>` part only.
#[derive(Debug, Clone, Copy)]
pub struct Fragment(pub bool);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Fragment {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Fragment(parts.headers.contains_key(FRAGMENT_HEADER)))
    }
}

/// `view` as a whole page, or its `<main>` content alone for a refresh.
pub fn respond(fragment: Fragment, view: View<'_>) -> Response {
    if fragment.0 {
        return html_response(view.main);
    }
    html_response(page(
        view.title,
        view.current,
        view.token_link,
        view.live,
        view.main,
    ))
}

/// A whole page: `title`, the navigation with `current` marked, `main`.
pub fn page(
    title: &str,
    current: &str,
    token_link: TokenLink,
    live: Option<&str>,
    main: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · drover" }
                // No favicon request (a 404 in every console).
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/ui/static/app.css";
                script src="/ui/static/app.js" defer {}
            }
            body {
                header {
                    nav aria-label="Main" {
                        a.brand href="/ui" { "drover" }
                        ul {
                            @for (path, label) in NAV {
                                li {
                                    @if path == current {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                        form.search role="search" action="/ui/search" method="get" {
                            input type="search" name="q" placeholder="Search ( / )" maxlength="200"
                                aria-label="Search jobs, nodes and allocations" aria-keyshortcuts="/";
                        }
                        @match token_link {
                            TokenLink::Hidden => {},
                            TokenLink::SignIn => a.token href="/ui/token" { "Sign in" },
                            TokenLink::Token => a.token href="/ui/token" { "Token" },
                        }
                    }
                }
                // Outside <main>, so a live refresh after a button does
                // not wipe what the button's answer said.
                p id="action-message" role="status" aria-live="polite" {}
                main id="main" data-live=[live] { (main) }
            }
        }
    }
}

/// A table with these column `headers` and `rows` (`tr`s), scrolling
/// sideways on a narrow screen.
pub fn table(headers: &[&str], rows: Markup) -> Markup {
    html! {
        div.table-wrap {
            table {
                thead { tr { @for header in headers { th scope="col" { (header) } } } }
                tbody { (rows) }
            }
        }
    }
}

/// A short error in the page shell (the API's own message).
pub fn error_page(
    status: axum::http::StatusCode,
    message: &str,
    token_link: TokenLink,
) -> Response {
    let body = page(
        "Error",
        "",
        token_link,
        None,
        html! {
            h1 { "Error " (status.as_u16()) }
            p.error role="alert" { (message) }
            @if status == axum::http::StatusCode::FORBIDDEN {
                p { a href="/ui/token" { "Use another token" } }
            }
        },
    );
    (status, html_response(body)).into_response()
}

/// `markup` as a `text/html` response.
pub fn html_response(markup: Markup) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

const STYLESHEET: &str = include_str!("static/app.css");
const SCRIPT: &str = include_str!("static/app.js");

pub async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", STYLESHEET)
}

pub async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", SCRIPT)
}

fn static_file(content_type: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}
