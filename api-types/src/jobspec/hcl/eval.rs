//! Expression evaluation with `var.*`, `local.*` and the function library,
//! keeping Nomad's runtime references as literal text.
//!
//! Nomad interpolates `${attr.*}`, `${node.*}`, `${meta.*}`, `${NOMAD_*}`,
//! `${env.*}` and friends on the client, long after the job file is parsed.
//! Before handing an expression to hcl-rs, [`Evaluator::eval`] therefore walks
//! it and replaces every variable or traversal whose root is neither `var`,
//! `local` nor a name bound by an enclosing `for` (expression or template
//! directive) with the string `"${<its source>}"`. Evaluation then leaves
//! those as text while `${var.x}` beside them is substituted.

use std::collections::BTreeSet;
use std::path::PathBuf;

use hcl::eval::{Context, Evaluate};
use hcl::expr::{Expression, FuncCall, Operation, TemplateExpr, Traversal, TraversalOperator};
use hcl::template::{Directive, Element, Template};
use hcl::{Map, Value};

use crate::diagnostic::suggestion_suffix;

use super::funcs;

pub(super) struct Evaluator {
    ctx: Context<'static>,
    vars: Map<String, Value>,
    /// Every declared local, evaluated or not: a reference to one not yet
    /// evaluated is a dependency, to an undeclared one an error.
    local_names: BTreeSet<String>,
    locals: Map<String, Value>,
    files: Files,
}

/// Where `file()` reads.
#[derive(Debug, Clone)]
pub enum Files {
    /// Relative paths under this directory (the job file's), if any.
    Under(Option<PathBuf>),
    /// Nowhere: the job was not read from this machine's disk.
    Refused,
}

impl Evaluator {
    pub fn new(files: Files) -> Self {
        let mut ctx = Context::new();
        funcs::declare_all(&mut ctx);
        ctx.declare_var("var", Value::Object(Map::new()));
        ctx.declare_var("local", Value::Object(Map::new()));
        Evaluator {
            ctx,
            vars: Map::new(),
            local_names: BTreeSet::new(),
            locals: Map::new(),
            files,
        }
    }

    pub fn set_vars(&mut self, vars: Map<String, Value>) {
        self.ctx.declare_var("var", Value::Object(vars.clone()));
        self.vars = vars;
    }

    pub fn declare_locals(&mut self, names: impl IntoIterator<Item = String>) {
        self.local_names.extend(names);
    }

    pub fn set_local(&mut self, name: String, value: Value) {
        self.locals.insert(name, value);
        self.ctx
            .declare_var("local", Value::Object(self.locals.clone()));
    }

    /// Evaluates an expression of the job file.
    pub fn eval(&self, expr: &hcl_edit::expr::Expression) -> Result<Value, String> {
        self.eval_hcl(expr.clone().into())
    }

    pub fn eval_hcl(&self, mut expr: Expression) -> Result<Value, String> {
        self.prepare(&mut expr, &mut Vec::new())?;
        expr.evaluate(&self.ctx).map_err(|e| e.kind().to_string())
    }

    /// Rewrites `expr` in place: runtime references become literal text,
    /// `file()` calls are resolved; unknown `var.`/`local.` names and
    /// functions are errors.
    fn prepare(&self, expr: &mut Expression, scope: &mut Vec<String>) -> Result<(), String> {
        match expr {
            Expression::Variable(v) if is_runtime_root(v.as_str(), scope) => {
                *expr = runtime_literal(expr);
            }
            Expression::Traversal(t) => {
                let runtime = self.prepare_traversal(t, scope)?;
                if runtime {
                    *expr = runtime_literal(expr);
                }
            }
            Expression::TemplateExpr(t) => self.prepare_template(t, scope)?,
            Expression::FuncCall(call) => {
                if let Some(resolved) = self.prepare_call(call, scope)? {
                    *expr = resolved;
                }
            }
            Expression::Array(items) => {
                for item in items {
                    self.prepare(item, scope)?;
                }
            }
            Expression::Object(object) => {
                for (_, value) in object.iter_mut() {
                    self.prepare(value, scope)?;
                }
            }
            Expression::Parenthesis(inner) => self.prepare(inner, scope)?,
            Expression::Conditional(c) => {
                self.prepare(&mut c.cond_expr, scope)?;
                self.prepare(&mut c.true_expr, scope)?;
                self.prepare(&mut c.false_expr, scope)?;
            }
            Expression::Operation(op) => match op.as_mut() {
                Operation::Unary(u) => self.prepare(&mut u.expr, scope)?,
                Operation::Binary(b) => {
                    self.prepare(&mut b.lhs_expr, scope)?;
                    self.prepare(&mut b.rhs_expr, scope)?;
                }
            },
            Expression::ForExpr(f) => {
                self.prepare(&mut f.collection_expr, scope)?;
                let bound = scope.len();
                scope.extend(f.key_var.iter().map(|k| k.to_string()));
                scope.push(f.value_var.to_string());
                let result = (|| -> Result<(), String> {
                    if let Some(key) = &mut f.key_expr {
                        self.prepare(key, scope)?;
                    }
                    self.prepare(&mut f.value_expr, scope)?;
                    if let Some(cond) = &mut f.cond_expr {
                        self.prepare(cond, scope)?;
                    }
                    Ok(())
                })();
                scope.truncate(bound);
                result?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Returns whether the whole traversal is a runtime reference.
    fn prepare_traversal(
        &self,
        t: &mut Traversal,
        scope: &mut Vec<String>,
    ) -> Result<bool, String> {
        match &t.expr {
            Expression::Variable(root) if is_runtime_root(root.as_str(), scope) => return Ok(true),
            Expression::Variable(root) if !scope.iter().any(|s| s == root.as_str()) => {
                self.check_name(root.as_str(), t.operators.first())?;
            }
            _ => self.prepare(&mut t.expr, scope)?,
        }
        for op in &mut t.operators {
            if let TraversalOperator::Index(index) = op {
                self.prepare(index, scope)?;
            }
        }
        Ok(false)
    }

    /// `var.x` and `local.x` must name something declared.
    fn check_name(&self, root: &str, first: Option<&TraversalOperator>) -> Result<(), String> {
        let Some(TraversalOperator::GetAttr(name)) = first else {
            return Ok(());
        };
        let name = name.as_str();
        if root == "var" && !self.vars.contains_key(name) {
            let suffix = suggestion_suffix(name, self.vars.keys().map(String::as_str));
            return Err(format!(
                "unknown variable \"{name}\"{suffix}; declare it with a variable \"{name}\" block"
            ));
        }
        if root == "local" && !self.locals.contains_key(name) {
            if self.local_names.contains(name) {
                return Err(format!(
                    "local.{name} is not known yet: the locals refer to each other in a cycle"
                ));
            }
            let suffix = suggestion_suffix(name, self.local_names.iter().map(String::as_str));
            return Err(format!("unknown local value \"{name}\"{suffix}"));
        }
        Ok(())
    }

    fn prepare_template(
        &self,
        t: &mut TemplateExpr,
        scope: &mut Vec<String>,
    ) -> Result<(), String> {
        let original = Template::from_expr(t).map_err(|e| e.to_string())?;
        let mut template = original.clone();
        self.prepare_elements(&mut template, scope)?;
        if template == original {
            return Ok(());
        }
        let raw = hcl::format::to_string(&template).map_err(|e| e.to_string())?;
        match t {
            TemplateExpr::QuotedString(s) => *s = raw,
            TemplateExpr::Heredoc(h) => h.template = raw,
        }
        Ok(())
    }

    fn prepare_elements(
        &self,
        template: &mut Template,
        scope: &mut Vec<String>,
    ) -> Result<(), String> {
        for element in template.elements_mut() {
            match element {
                Element::Literal(_) => {}
                Element::Interpolation(i) => self.prepare(&mut i.expr, scope)?,
                Element::Directive(d) => match d.as_mut() {
                    Directive::If(d) => {
                        self.prepare(&mut d.cond_expr, scope)?;
                        self.prepare_elements(&mut d.true_template, scope)?;
                        if let Some(f) = &mut d.false_template {
                            self.prepare_elements(f, scope)?;
                        }
                    }
                    Directive::For(d) => {
                        self.prepare(&mut d.collection_expr, scope)?;
                        let bound = scope.len();
                        scope.extend(d.key_var.iter().map(|k| k.to_string()));
                        scope.push(d.value_var.to_string());
                        let result = self.prepare_elements(&mut d.template, scope);
                        scope.truncate(bound);
                        result?;
                    }
                },
            }
        }
        Ok(())
    }

    /// Checks the function exists and prepares its arguments; `file` and
    /// `fileexists` are evaluated here and replaced by their result.
    fn prepare_call(
        &self,
        call: &mut FuncCall,
        scope: &mut Vec<String>,
    ) -> Result<Option<Expression>, String> {
        let name = call.name.to_string();
        if !funcs::names().any(|n| n == name) {
            let suffix = suggestion_suffix(&name, funcs::names());
            return Err(format!("unknown function \"{name}\"{suffix}"));
        }
        for arg in &mut call.args {
            self.prepare(arg, scope)?;
        }
        if !funcs::FILE_FUNCS.contains(&name.as_str()) {
            return Ok(None);
        }
        let [arg] = call.args.as_slice() else {
            return Err(format!("{name}() takes exactly one argument, a path"));
        };
        let path = match arg.evaluate(&self.ctx).map_err(|e| e.kind().to_string())? {
            Value::String(path) => PathBuf::from(path),
            other => {
                return Err(format!(
                    "{name}(): the path must be a string, got {}",
                    funcs::kind(&other)
                ))
            }
        };
        let path = match &self.files {
            Files::Refused => {
                return Err(format!(
                    "{name}() reads the disk of the machine that parses the job, and this job is \
                     parsed by a server: put the content in the job, or run the file with drover apply"
                ))
            }
            Files::Under(Some(dir)) if path.is_relative() => dir.join(path),
            Files::Under(_) => path,
        };
        if name == "fileexists" {
            return Ok(Some(Expression::Bool(path.is_file())));
        }
        std::fs::read_to_string(&path)
            .map(|text| Some(Expression::String(text)))
            .map_err(|e| format!("file(): cannot read {}: {e}", path.display()))
    }
}

fn is_runtime_root(name: &str, scope: &[String]) -> bool {
    name != "var" && name != "local" && !scope.iter().any(|s| s == name)
}

/// `attr.kernel.name` → the string `${attr.kernel.name}`.
fn runtime_literal(expr: &Expression) -> Expression {
    let source = hcl::format::to_string(expr).unwrap_or_default();
    Expression::String(format!("${{{source}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluator() -> Evaluator {
        let mut e = Evaluator::new(Files::Under(None));
        let mut vars = Map::new();
        vars.insert("dc".to_string(), Value::from("dc1"));
        vars.insert("names".to_string(), Value::from(vec!["a", "b"]));
        e.set_vars(vars);
        e.declare_locals(["prefix".to_string()]);
        e.set_local("prefix".into(), Value::from("web"));
        e
    }

    fn eval(src: &str) -> Result<Value, String> {
        let expr: Expression = src.parse().map_err(|e: hcl::Error| e.to_string())?;
        evaluator().eval_hcl(expr)
    }

    fn ok(src: &str) -> Value {
        eval(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn runtime_references_stay_literal() {
        assert_eq!(
            ok(r#""${attr.kernel.name}""#),
            Value::from("${attr.kernel.name}")
        );
        assert_eq!(
            ok(r#""prefix-${NOMAD_ALLOC_INDEX}""#),
            Value::from("prefix-${NOMAD_ALLOC_INDEX}")
        );
        assert_eq!(
            ok(r#""${node.unique.id}/${var.dc}""#),
            Value::from("${node.unique.id}/dc1")
        );
        assert_eq!(
            ok(r#""${meta["rack"]}-${local.prefix}""#),
            Value::from("${meta[\"rack\"]}-web")
        );
        assert_eq!(ok("attr.kernel.name"), Value::from("${attr.kernel.name}"));
        assert_eq!(ok(r#""$${escaped}""#), Value::from("${escaped}"));
    }

    #[test]
    fn for_variables_are_not_runtime_references() {
        assert_eq!(
            ok(r#"[for n in var.names : "${n}-${NOMAD_DC}"]"#),
            Value::from(vec!["a-${NOMAD_DC}", "b-${NOMAD_DC}"])
        );
        let object = ok(r#"{for i, n in var.names : n => "${i}/${attr.x}"}"#);
        assert_eq!(
            serde_json::to_string(&object).unwrap_or_default(),
            r#"{"a":"0/${attr.x}","b":"1/${attr.x}"}"#
        );
        assert_eq!(
            ok(r#""%{ for n in var.names }${n}.${env.X};%{ endfor }""#),
            Value::from("a.${env.X};b.${env.X};")
        );
        assert_eq!(
            ok(r#""%{ if var.dc == "dc1" }yes%{ else }no%{ endif }""#),
            Value::from("yes")
        );
    }

    #[test]
    fn unknown_names_have_suggestions() {
        let err = eval("var.dcc").err().unwrap_or_default();
        assert!(
            err.starts_with("unknown variable \"dcc\" (did you mean \"dc\"?)"),
            "{err}"
        );
        let err = eval("local.prefx").err().unwrap_or_default();
        assert_eq!(
            err,
            "unknown local value \"prefx\" (did you mean \"prefix\"?)"
        );
        let err = eval(r#"uper("x")"#).err().unwrap_or_default();
        assert_eq!(err, "unknown function \"uper\" (did you mean \"upper\"?)");
    }

    #[test]
    fn arithmetic_conditionals_comparisons() {
        assert_eq!(ok("1 + 2 * 3"), Value::from(7));
        assert_eq!(ok(r#"var.dc == "dc1" ? 3 : 1"#), Value::from(3));
        assert_eq!(ok("length(var.names) > 1 && !false"), Value::Bool(true));
    }

    #[test]
    fn file_reads_relative_to_the_base_dir() {
        let dir = std::env::temp_dir().join(format!("drover-hcl-file-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("motd.txt"), "hello");
        let e = Evaluator::new(Files::Under(Some(dir.clone())));
        let read = |src: &str| {
            let expr: Expression = src.parse().unwrap_or(Expression::Null);
            e.eval_hcl(expr)
        };
        assert_eq!(read(r#"upper(file("motd.txt"))"#), Ok(Value::from("HELLO")));
        assert_eq!(read(r#"fileexists("motd.txt")"#), Ok(Value::Bool(true)));
        assert_eq!(read(r#"fileexists("nope.txt")"#), Ok(Value::Bool(false)));
        assert!(read(r#"file("nope.txt")"#).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_job_parsed_by_a_server_reads_no_files() {
        let e = Evaluator::new(Files::Refused);
        for call in [r#"file("/etc/hostname")"#, r#"fileexists("/etc/hostname")"#] {
            let expr: Expression = call.parse().unwrap_or(Expression::Null);
            let refused = e.eval_hcl(expr).expect_err("refused");
            assert!(refused.contains("parsed by a server"), "{refused}");
        }
    }
}
