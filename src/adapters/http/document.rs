//! The published OpenAPI document. poem-openapi builds it from the handlers and types; this
//! module adds what poem-openapi cannot say, derived from the same source rather than written
//! beside it:
//! - `additionalProperties: false` on every object a request body reaches (the body reader
//!   refuses unknown fields at every level);
//! - `security: []` on the operations that take no key;
//! - whole-number `minimum`/`maximum` written as integers;
//! - YAML in which every string is quoted, so that no YAML loader reads `2023-02-20` as a
//!   date or `no` as a boolean.

use poem_openapi::{OpenApi, OpenApiService, Webhook};
use serde_json::{Map, Value};

/// The document in its three published forms.
pub struct Document {
    pub json: String,
    pub yaml: String,
    /// Swagger UI with this document embedded.
    pub swagger_ui_html: String,
    /// The methods of every path, as a 405's `Allow` header lists them.
    pub allowed: std::collections::HashMap<String, String>,
}

impl Document {
    pub fn of<T: OpenApi, W: Webhook>(service: &OpenApiService<T, W>) -> Self {
        let generated = service.spec();
        let value = match serde_json::from_str::<Value>(&generated) {
            Ok(mut value) => {
                complete(&mut value);
                value
            }
            Err(e) => {
                tracing::error!(error = %e, "poem-openapi produced a document that is not JSON");
                Value::Null
            }
        };
        let json = serde_json::to_string_pretty(&value).unwrap_or_default();
        // Swagger UI embeds the document poem-openapi generated; put the completed one there,
        // with the server it is served from (it calls the listed server, and the default
        // address is not where an operator's browser reaches this one).
        let mut here = value.clone();
        here["servers"] = serde_json::json!([{ "url": "/", "description": "This server." }]);
        let swagger_ui_html = service
            .swagger_ui_html()
            .replacen(&generated, &here.to_string(), 1);
        Self {
            yaml: to_yaml(&value),
            allowed: allowed_methods(&value),
            json,
            swagger_ui_html,
        }
    }
}

const METHODS: &[&str] = &["get", "put", "post", "patch", "delete"];

/// The methods of every path (the document's operations, and GET for the document itself,
/// the docs and the metrics).
fn allowed_methods(doc: &Value) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let methods: Vec<String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_uppercase())
            .collect();
        out.insert(path.clone(), methods.join(", "));
    }
    for path in ["/openapi.json", "/openapi.yaml", "/docs", "/metrics"] {
        out.insert(path.to_owned(), "GET".to_owned());
    }
    out
}

/// Adds to poem-openapi's document what it cannot express.
fn complete(doc: &mut Value) {
    let mut request_schemas = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                let Some(op) = item.get_mut(*method).and_then(Value::as_object_mut) else {
                    continue;
                };
                if !op.contains_key("security") {
                    op.insert("security".into(), Value::Array(Vec::new()));
                }
                if let Some(content) = op
                    .get("requestBody")
                    .and_then(|b| b.get("content"))
                    .and_then(Value::as_object)
                {
                    for media in content.values() {
                        collect_refs(media.get("schema"), &mut request_schemas);
                    }
                }
            }
        }
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        close_objects(schemas, request_schemas);
    }
    whole_number_bounds(doc);
}

fn collect_refs(schema: Option<&Value>, out: &mut Vec<String>) {
    let Some(schema) = schema else { return };
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    out.push(name.to_owned());
                }
            }
            for value in map.values() {
                collect_refs(Some(value), out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(Some(v), out)),
        _ => {}
    }
}

/// Closes every request object and the objects it refers to, transitively.
fn close_objects(schemas: &mut Map<String, Value>, mut pending: Vec<String>) {
    let mut done: Vec<String> = Vec::new();
    while let Some(name) = pending.pop() {
        if done.contains(&name) {
            continue;
        }
        if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
            if schema.get("type").and_then(Value::as_str) == Some("object") {
                schema.insert("additionalProperties".into(), Value::Bool(false));
            }
            collect_refs(schema.get("properties"), &mut pending);
        }
        done.push(name);
    }
}

fn whole_number_bounds(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if matches!(key.as_str(), "minimum" | "maximum") {
                    if let Some(f) = v.as_f64() {
                        if f.fract() == 0.0 && f.abs() < 9.0e15 {
                            *v = Value::from(f as i64);
                        }
                    }
                } else {
                    whole_number_bounds(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_number_bounds),
        _ => {}
    }
}

/// YAML of a JSON value: block style, every string double-quoted with JSON's escapes (which
/// YAML's double-quoted scalars share), so any YAML 1.1 or 1.2 loader reads the same values.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_block(&mut out, value, 0);
    out
}

fn quoted(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// A key as it is when YAML reads it as that string; quoted otherwise. YAML 1.1 reads `y`,
/// `no`, `on`, `null`… as other types, so those are quoted too.
fn key(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-/.".contains(c))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain {
        s.to_owned()
    } else {
        quoted(s)
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(quoted(s)),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(m) if m.is_empty() => Some("{}".into()),
        _ => None,
    }
}

fn write_block(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (name, v) in map {
                out.push_str(&pad);
                out.push_str(&key(name));
                out.push(':');
                match scalar(v) {
                    Some(s) => {
                        out.push(' ');
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        out.push('\n');
                        write_block(out, v, indent + 2);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match scalar(item) {
                    Some(s) => {
                        out.push(' ');
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        // The item's block starts on the dash's line.
                        let mut inner = String::new();
                        write_block(&mut inner, item, indent + 2);
                        out.push(' ');
                        out.push_str(inner.trim_start());
                    }
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar(other).unwrap_or_default());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn yaml_quotes_every_string_and_nests_blocks() {
        let v = json!({"a": "2023-02-20", "b": [1, {"c": "no", "d": []}, [true]], "e": {}, "200": null, "no": 1, "$ref": "x"});
        assert_eq!(
            to_yaml(&v),
            "a: \"2023-02-20\"\nb:\n  - 1\n  - c: \"no\"\n    d: []\n  - - true\ne: {}\n\"200\": null\n\"no\": 1\n\"$ref\": \"x\"\n"
        );
    }
}
