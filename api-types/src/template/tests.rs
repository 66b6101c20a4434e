//! Every construct the renderer knows, and every way it refuses.

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "NOMAD_ALLOC_INDEX" => Some("3".into()),
        "NAME" => Some("web".into()),
        "PADDED" => Some("  mixed Case  ".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn ok(text: &str) -> String {
    render(text, "", "", &env).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> String {
    match render(text, "", "", &env) {
        Ok(out) => panic!("{text:?} rendered {out:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn literal_text_passes_through() {
    assert_eq!(ok(""), "");
    assert_eq!(ok("plain\ntext } { }"), "plain\ntext } { }");
}

#[test]
fn env_looks_up_and_missing_is_empty() {
    assert_eq!(ok("port={{ env \"NOMAD_ALLOC_INDEX\" }}\n"), "port=3\n");
    assert_eq!(ok("{{env \"NAME\"}}-{{ env \"NOPE\" }}."), "web-.");
    assert_eq!(ok("{{ env `NAME` }}"), "web");
}

#[test]
fn custom_delimiters() {
    let out = render("a=[[ env \"NAME\" ]] {{ keep }}", "[[", "]]", &env).expect("render");
    assert_eq!(out, "a=web {{ keep }}");
    let out = render("<%- env \"NAME\" -%>", "<%", "%>", &env).expect("render");
    assert_eq!(out, "web");
}

#[test]
fn trim_markers() {
    assert_eq!(ok("a  \n {{- env \"NAME\" -}} \n\t b"), "awebb");
    assert_eq!(ok("a {{- \"x\" }} b"), "ax b");
    assert_eq!(ok("a {{ \"x\" -}} b"), "a xb");
    // Without the space a dash is a sign, as in Go.
    assert_eq!(ok("a {{-3}} b"), "a -3 b");
}

#[test]
fn comments() {
    assert_eq!(ok("a{{/* note */}}b"), "ab");
    assert_eq!(ok("a {{- /* spans\nlines */ -}} b"), "ab");
    assert_eq!(
        err("x\n{{/* open"),
        "line 2, col 3: unclosed comment: no \"*/\" after it"
    );
    assert_eq!(
        err("{{/* c */ \"x\" }}"),
        "line 1, col 10: a comment must end right before \"}}\""
    );
}

#[test]
fn string_literals_and_escapes() {
    assert_eq!(ok(r#"{{ "a\tb\n\"q\"\\" }}"#), "a\tb\n\"q\"\\");
    assert_eq!(ok(r#"{{ "\x41\101\u00e9\U0001F600" }}"#), "AAé😀");
    assert_eq!(ok("{{ `raw \\n {{ }} ` }}"), "raw \\n {{ }} ");
    assert_eq!(ok(r#"{{ "}}" }}"#), "}}");
    assert_eq!(ok("{{ true }} {{ false }}"), "true false");
    assert_eq!(
        err(r#"{{ "bad \q" }}"#),
        "line 1, col 9: invalid escape \\q in string"
    );
    assert_eq!(
        err(r#"{{ "\xZZ" }}"#),
        "line 1, col 5: invalid escape \\xZZ in string"
    );
    assert_eq!(
        err(r#"{{ "\xff" }}"#),
        "line 1, col 4: the string is not valid UTF-8"
    );
    assert_eq!(
        err("{{ \"open }}"),
        "line 1, col 4: unterminated quoted string"
    );
    assert_eq!(
        err("{{ \"a\nb\" }}"),
        "line 1, col 4: unterminated quoted string"
    );
    assert_eq!(err("{{ `open }}"), "line 1, col 4: unterminated raw string");
}

#[test]
fn pipelines_and_string_functions() {
    assert_eq!(ok("{{ env \"NAME\" | toUpper }}"), "WEB");
    assert_eq!(
        ok("{{ env \"PADDED\" | trimSpace | toLower }}"),
        "mixed case"
    );
    assert_eq!(ok("{{ toUpper (env \"NAME\") }}"), "WEB");
    assert_eq!(ok("{{ \"X\" | toLower }}"), "x");
    assert_eq!(ok("{{ or (env \"EMPTY\") \"default\" }}"), "default");
    assert_eq!(ok("{{ or (env \"NAME\") \"default\" }}"), "web");
    assert_eq!(ok("{{ and (env \"NAME\") \"both\" }}"), "both");
    assert_eq!(ok("{{ eq (env \"NAME\") \"db\" \"web\" }}"), "true");
    assert_eq!(ok("{{ ne (env \"NAME\") \"web\" }}"), "false");
    assert_eq!(ok("{{ not (env \"EMPTY\") }}"), "true");
}

#[test]
fn if_else() {
    let t = "{{ if env \"NAME\" }}yes{{ else }}no{{ end }}";
    assert_eq!(ok(t), "yes");
    assert_eq!(ok("{{ if env \"EMPTY\" }}yes{{ else }}no{{ end }}"), "no");
    assert_eq!(ok("{{ if env \"NOPE\" }}yes{{ end }}!"), "!");
    let chain = "{{ if eq (env \"NAME\") \"db\" }}db{{ else if eq (env \"NAME\") \"web\" }}web{{ else }}other{{ end }}";
    assert_eq!(ok(chain), "web");
    let nested =
        "{{ if env \"NAME\" }}[{{ if not (env \"EMPTY\") }}{{ env \"NAME\" }}{{ end }}]{{ end }}";
    assert_eq!(ok(nested), "[web]");
    let trimmed = "a\n{{- if env \"NAME\" }}\nb\n{{- end }}\nc";
    assert_eq!(ok(trimmed), "a\nb\nc");
}

#[test]
fn if_else_errors() {
    assert_eq!(
        err("x\n  {{ if env \"A\" }}y"),
        "line 2, col 6: {{ if }} without {{ end }}"
    );
    assert_eq!(
        err("{{ end }}"),
        "line 1, col 4: {{ end }} without {{ if }}"
    );
    assert_eq!(
        err("{{ else }}"),
        "line 1, col 4: {{ else }} without {{ if }}"
    );
    assert_eq!(
        err("{{ if }}{{ end }}"),
        "line 1, col 4: missing condition after if"
    );
    assert_eq!(
        err("{{ if true }}{{ else }}{{ else }}{{ end }}"),
        "line 1, col 27: a second {{ else }} in the same if"
    );
    assert_eq!(
        err("{{ if true }}{{ else env \"A\" }}{{ end }}"),
        "line 1, col 17: after else only \"if …\" may follow"
    );
    assert_eq!(
        err("{{ if true }}{{ end x }}"),
        "line 1, col 21: unexpected words after end"
    );
}

#[test]
fn catalog_kv_and_vault_functions_are_refused_with_their_position() {
    assert_eq!(
        err("a\nb\nc = {{ range service \"db\" }}"),
        "line 3, col 8: \"range\" is not supported yet (drover renders env, if/else and literals only)"
    );
    assert_eq!(
        err("a\nb\n{{ service \"db\" }}"),
        "line 3, col 4: function \"service\" is not supported yet (drover renders env only; the catalog functions come with service registration)"
    );
    assert_eq!(
        err("{{ key \"cfg/x\" }}"),
        "line 1, col 4: function \"key\" is not supported yet (drover renders env only; the key/value and variable functions come later)"
    );
    assert_eq!(
        err("{{ with secret \"kv/x\" }}{{ end }}"),
        "line 1, col 4: \"with\" is not supported yet (drover renders env, if/else and literals only)"
    );
    assert_eq!(
        err("{{ env \"A\" | secret }}"),
        "line 1, col 14: function \"secret\" is not supported yet (drover renders env only; Vault is not integrated)"
    );
    assert_eq!(
        err("{{ timestamp }}"),
        "line 1, col 4: function \"timestamp\" is not supported yet (drover renders env only)"
    );
    // Refused even in a branch that would not run: the template is wrong
    // whatever the environment.
    assert_eq!(
        err("{{ if false }}{{ nomadVar \"x\" }}{{ end }}"),
        "line 1, col 18: function \"nomadVar\" is not supported yet (drover renders env only; the key/value and variable functions come later)"
    );
}

#[test]
fn data_variables_and_malformed_actions_are_refused() {
    assert_eq!(
        err("{{ .Name }}"),
        "line 1, col 4: \".Name\" is not supported yet (drover templates have no data or variables; use env \"NAME\")"
    );
    assert_eq!(
        err("{{ $x := env \"A\" }}"),
        "line 1, col 4: \"$x\" is not supported yet (drover templates have no data or variables; use env \"NAME\")"
    );
    assert_eq!(
        err("ok {{ env \"A\""),
        "line 1, col 4: unclosed action: no \"}}\" after it"
    );
    assert_eq!(
        err("{{ }}"),
        "line 1, col 1: empty action: nothing between the delimiters"
    );
    assert_eq!(
        err("{{ env }}"),
        "line 1, col 4: function \"env\" takes 1 argument, got 0"
    );
    assert_eq!(
        err("{{ env \"A\" \"B\" }}"),
        "line 1, col 4: function \"env\" takes 1 argument, got 2"
    );
    assert_eq!(
        err("{{ \"a\" | env \"B\" }}"),
        "line 1, col 10: function \"env\" takes 1 argument, got 2"
    );
    assert_eq!(
        err("{{ eq \"a\" }}"),
        "line 1, col 4: function \"eq\" takes at least 2 arguments, got 1"
    );
    assert_eq!(
        err("{{ toUpper env }}"),
        "line 1, col 12: function \"env\" takes 1 argument, got 0"
    );
    assert_eq!(
        err("{{ \"a\" \"b\" }}"),
        "line 1, col 8: only a function takes arguments"
    );
    assert_eq!(
        err("{{ \"a\" | \"b\" }}"),
        "line 1, col 10: only a function can follow \"|\""
    );
    assert_eq!(
        err("{{ | toUpper }}"),
        "line 1, col 4: missing command in pipeline"
    );
    assert_eq!(
        err("{{ env \"A\" | }}"),
        "line 1, col 1: missing command in pipeline"
    );
    assert_eq!(err("{{ (env \"A\" }}"), "line 1, col 1: unclosed \"(\"");
    assert_eq!(err("{{ env \"A\") }}"), "line 1, col 11: unexpected \")\"");
    assert_eq!(err("{{ () }}"), "line 1, col 4: empty parentheses");
    assert_eq!(
        err("{{ env = }}"),
        "line 1, col 8: unexpected '=' in action"
    );
    assert_eq!(
        err("{{ if if }}{{ end }}"),
        "line 1, col 7: unexpected \"if\" inside an action"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(
        err("é—{{ service \"x\" }}"),
        "line 1, col 6: function \"service\" is not supported yet (drover renders env only; the catalog functions come with service registration)"
    );
}

#[test]
fn env_files() {
    let text = "# comment\n\nGREETING=hi\nexport A = b c \nQ=\"two\\nlines \\\"q\\\"\"\nS='lit $x \\n'\nT=v # note\nE=\n";
    let env = parse_env_file(text).expect("parse");
    let want: BTreeMap<String, String> = [
        ("GREETING", "hi"),
        ("A", "b c"),
        ("Q", "two\nlines \"q\""),
        ("S", "lit $x \\n"),
        ("T", "v"),
        ("E", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(env, want);
}

#[test]
fn env_file_errors() {
    assert_eq!(
        parse_env_file("A=1\njust words\n"),
        Err("line 2: \"just words\" is not KEY=VALUE".into())
    );
    assert_eq!(
        parse_env_file("1A=x"),
        Err("line 1: \"1A\" is not a variable name (letters, digits and _)".into())
    );
    assert_eq!(
        parse_env_file("A=\"open"),
        Err("line 1: the value of A has no closing \"".into())
    );
    assert_eq!(
        parse_env_file("A='open"),
        Err("line 1: the value of A has no closing '".into())
    );
}

#[test]
fn deep_nesting_is_refused_not_recursed_into() {
    // What would overflow the stack: a megabyte of nested ifs or parens.
    let ifs = "{{ if true }}".repeat(200_000) + &"{{ end }}".repeat(200_000);
    assert!(
        err(&ifs).contains("{{ if }} blocks nest more than 64 deep"),
        "{}",
        err(&ifs)
    );
    let parens = format!(
        "{{{{ {}\"x\"{} }}}}",
        "(".repeat(200_000),
        ")".repeat(200_000)
    );
    assert!(err(&parens).contains("parentheses nest more than 64 deep"));
    // Up to the bound renders.
    let fine = "{{ if true }}".repeat(MAX_NESTING) + "x" + &"{{ end }}".repeat(MAX_NESTING);
    assert_eq!(ok(&fine), "x");
    let siblings = "{{ if true }}a{{ end }}".repeat(1000);
    assert_eq!(ok(&siblings), "a".repeat(1000));
}
