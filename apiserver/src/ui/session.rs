//! The token page: a visitor pastes an ACL token once; it is checked by
//! the API's ACL code and kept in an `HttpOnly`,
//! `SameSite=Strict` cookie scoped to `/ui`, which no script can read and
//! no other site's page can send. Without ACLs every page works without
//! one.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use maud::html;

use super::calls::{Ui, Visitor, TOKEN_COOKIE};
use super::layout::{html_response, page, TokenLink};

/// The longest token accepted (drover's are UUIDs; Nomad's too).
const MAX_TOKEN: usize = 256;

pub async fn token_page(State(ui): State<Ui>, visitor: Visitor) -> Response {
    let signed_in = visitor.0.is_some();
    let who = match visitor.0.as_deref() {
        Some(token) => ui
            .caller(Some(token))
            .await
            .ok()
            .and_then(|caller| caller.token)
            .map(|t| t.name),
        None => None,
    };
    let main = html! {
        h1 { "Token" }
        @if !ui.acl {
            p { "This cluster runs without ACLs: every page works without a token." }
        }
        @if let Some(name) = &who {
            p { "Signed in as " strong { (if name.is_empty() { "an unnamed token" } else { name }) } "." }
        } @else if signed_in {
            p.error { "The token kept for this browser is no longer valid." }
        }
        form.token {
            label for="token" { "ACL token (secret ID)" }
            input id="token" name="token" type="password" autocomplete="off" required maxlength=(MAX_TOKEN);
            button type="submit" { "Sign in" }
            @if signed_in {
                button.secondary type="button" id="sign-out" { "Sign out" }
            }
        }
        p id="token-message" role="status" aria-live="polite" {}
    };
    let link = TokenLink::of(ui.acl, signed_in);
    html_response(page("Token", "/ui/token", link, None, main))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub token: String,
}

/// The cookie that keeps `token` (or clears it, empty).
fn cookie(token: &str) -> String {
    let max_age = if token.is_empty() { 0 } else { 7 * 24 * 3600 };
    format!("{TOKEN_COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

/// Whether `token` could sit in a cookie as it is (pure).
fn plausible(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

pub async fn sign_in(State(ui): State<Ui>, Json(request): Json<SignIn>) -> Response {
    let token = request.token.trim();
    if !plausible(token) {
        return (StatusCode::BAD_REQUEST, "that is not a token").into_response();
    }
    if ui.acl {
        if let Err(e) = ui.caller(Some(token)).await {
            return (e.status, e.message).into_response();
        }
    }
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cookie(token))],
    )
        .into_response()
}

pub async fn sign_out() -> Response {
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie(""))]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_strict_and_scoped_to_the_ui() {
        let set = cookie("abc");
        for part in [
            "drover_token=abc",
            "Path=/ui",
            "HttpOnly",
            "SameSite=Strict",
        ] {
            assert!(set.contains(part), "{set}");
        }
        assert!(cookie("").contains("Max-Age=0"));
    }

    #[test]
    fn only_token_shaped_values_are_kept() {
        assert!(plausible("0b6c1a5e-1f2d-4c4e-9f00-123456789abc"));
        assert!(!plausible(""));
        assert!(!plausible("a; Path=/"));
        assert!(!plausible(&"a".repeat(MAX_TOKEN + 1)));
    }
}
