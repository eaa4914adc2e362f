//! The published document against the real binary, driven by the document itself: for every
//! request body and id header, every constrained property gets a value at each documented
//! bound (accepted: no 422) and one just past it (422 naming the property). A field added to
//! the domain's lists is covered here without a new test.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

use crate::helpers::{TestApp, KEY_A};

/// The character pattern every free-text field publishes.
fn is_text_pattern(pattern: &str) -> bool {
    pattern.starts_with("^[^\\u0000-\\u0008")
}

/// A value at a string bound and one just past it, for a property with this schema; `None`
/// when the bound cannot be crossed (a minimum of 0).
fn string_cases(schema: &Value, at_max: bool) -> Option<(Value, Value)> {
    let pattern = schema["pattern"].as_str().unwrap_or("");
    let bound = if at_max {
        schema["maxLength"].as_u64()?
    } else {
        schema["minLength"].as_u64().filter(|&n| n > 0)?
    } as usize;
    let (ok, bad) = if is_text_pattern(pattern) {
        // Two-byte characters: limits count characters, as the document says.
        let next = if at_max { bound + 1 } else { bound - 1 };
        ("ø".repeat(bound), "ø".repeat(next))
    } else {
        // The other patterns, each with a value at the bound that fits it.
        let (ok, bad): (String, String) = match (pattern, at_max, bound) {
            (p, true, 64) if p.contains("{3,20}") => {
                let v = format!("+{}{}", "1".repeat(20), " ".repeat(43));
                (v.clone(), format!("{v} "))
            }
            (p, true, 254) if p.contains('@') => {
                let v = format!("{}@example.no", "a".repeat(243));
                (v.clone(), format!("a{v}"))
            }
            (p, true, 19) if p.contains("T(") => {
                ("2023-02-20T12:30:00".into(), "2023-02-20T12:30:000".into())
            }
            (p, false, 10) if p.contains("T(") => ("2023-02-20".into(), "2023-02-2".into()),
            ("^[A-Z]$", true, 1) => ("Z".into(), "ZZ".into()),
            ("^[A-Z]$", false, 1) => ("A".into(), String::new()),
            other => panic!("no bound values for a string with {other:?}: add them here"),
        };
        (ok, bad)
    };
    Some((Value::from(ok), Value::from(bad)))
}

fn integer_cases(schema: &Value, at_max: bool) -> Option<(Value, Value)> {
    let bound = if at_max {
        schema["maximum"].as_i64()?
    } else {
        schema["minimum"].as_i64()?
    };
    let past = if at_max { bound + 1 } else { bound - 1 };
    Some((Value::from(bound), Value::from(past)))
}

/// Every constrained property of an object schema, by its path in the body, with its schema.
fn constrained(doc: &Value, schema: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    let schema = resolve(doc, schema);
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let path = format!("{prefix}{name}");
        let property = resolve(doc, property);
        match property["type"].as_str() {
            Some("object") => constrained(doc, &property, &format!("{path}."), out),
            Some("string") | Some("integer") => out.push((path, property)),
            _ => {}
        }
    }
}

fn resolve(doc: &Value, schema: &Value) -> Value {
    match schema["$ref"].as_str() {
        Some(r) => doc
            .pointer(&r.replace("#/", "/"))
            .cloned()
            .unwrap_or_else(|| panic!("{r} does not resolve")),
        None => schema.clone(),
    }
}

fn set(body: &mut Value, path: &str, value: Value) {
    let mut target = body;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            target[part] = value;
            return;
        }
        if target.get(part).is_none() {
            target[part] = Value::Object(Map::new());
        }
        target = &mut target[part];
    }
}

fn cases(property: &Value) -> Vec<(&'static str, Value, Value)> {
    let mut out = Vec::new();
    for (at_max, label) in [(true, "maximum"), (false, "minimum")] {
        let case = match property["type"].as_str() {
            Some("string") => string_cases(property, at_max),
            _ => integer_cases(property, at_max),
        };
        if let Some((ok, bad)) = case {
            out.push((label, ok, bad));
        }
    }
    out
}

#[tokio::test]
async fn every_documented_bound_is_the_service_bound() {
    let app = TestApp::spawn().await;
    let (_, _, doc) = app
        .send(Method::GET, "/openapi.json", None, &[], None)
        .await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // Header and query parameters; the others are sent with a valid value.
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for param in &params {
                let name = param["name"].as_str().unwrap();
                for (label, ok, bad) in cases(&param["schema"]) {
                    for (value, accepted) in [(&ok, true), (&bad, false)] {
                        let text = |v: &Value| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let mut headers = Vec::new();
                        let mut query = Vec::new();
                        for p in &params {
                            let pname = p["name"].as_str().unwrap().to_owned();
                            let v = if pname == name {
                                text(value)
                            } else {
                                "1".to_owned()
                            };
                            match p["in"].as_str() {
                                Some("header") => headers.push((pname, v)),
                                Some("query") if pname == name => query.push((pname, v)),
                                _ => {}
                            }
                        }
                        let pairs: Vec<(&str, &str)> = headers
                            .iter()
                            .map(|(n, v)| (n.as_str(), v.as_str()))
                            .collect();
                        let url = if query.is_empty() {
                            path.clone()
                        } else {
                            let q: Vec<String> =
                                query.iter().map(|(n, v)| format!("{n}={v}")).collect();
                            format!("{path}?{}", q.join("&"))
                        };
                        let (status, _, answer) = app
                            .send(method.clone(), &url, Some(KEY_A), &pairs, None)
                            .await;
                        check(
                            &format!("{method} {path} {name} {label} {value}"),
                            status,
                            &answer,
                            name,
                            accepted,
                        );
                        checked += 1;
                    }
                }
            }
            // Bodies.
            let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") else {
                continue;
            };
            let schema = resolve(&doc, schema);
            let example = schema["example"].clone();
            assert!(
                example.is_object(),
                "{method} {path}: the body has an example"
            );
            let mut properties = Vec::new();
            constrained(&doc, &schema, "", &mut properties);
            assert!(!properties.is_empty(), "{method} {path}");
            for (field, property) in properties {
                for (label, ok, bad) in cases(&property) {
                    for (value, accepted) in [(&ok, true), (&bad, false)] {
                        let mut body = example.clone();
                        set(&mut body, &field, value.clone());
                        let (status, _, answer) = app
                            .send(method.clone(), path, Some(KEY_A), &[], Some(body))
                            .await;
                        check(
                            &format!("{method} {path} {field} {label} {value}"),
                            status,
                            &answer,
                            &field,
                            accepted,
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 200, "only {checked} cases");
}

fn check(case: &str, status: StatusCode, answer: &Value, field: &str, accepted: bool) {
    if accepted {
        assert_ne!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{case} refused: {answer}"
        );
        assert!(!status.is_server_error(), "{case}: {status} {answer}");
    } else {
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{case} accepted: {answer}"
        );
        let fields: Vec<&str> = answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "{case}");
    }
}
