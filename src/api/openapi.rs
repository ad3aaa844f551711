//! The OpenAPI document (`openapi.json`, written by hand and served at
//! `/api/v1.0/openapi.json`), and request validation against it: a request body is checked
//! against its operation's schema in the document (OpenAPI 3.1 schemas are JSON Schema
//! 2020-12), so what the document says is what the service accepts. `tests/api.rs` checks
//! that every route is documented and every documented operation routed.

use jsonschema::Validator;
use serde_json::{Value, json};

pub const DOCUMENT: &str = include_str!("openapi.json");

/// The request schemas checked, by component name.
const REQUESTS: [&str; 2] = ["TaskRequest", "ValidateRequest"];

/// A GET path's query parameters: the path, each parameter's name and type, and a validator
/// of the query as an object.
struct Query {
    path: String,
    types: Vec<(String, String)>,
    validator: Validator,
}

pub struct Validators {
    compiled: Vec<(&'static str, Validator)>,
    queries: Vec<Query>,
}

fn build(root: &Value, what: &str) -> Result<Validator, String> {
    jsonschema::options()
        .offline()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(root)
        .map_err(|e| format!("openapi.json: {what}: {e}"))
}

impl Validators {
    pub fn new() -> Result<Validators, String> {
        let doc: Value =
            serde_json::from_str(DOCUMENT).map_err(|e| format!("openapi.json: {e}"))?;
        let mut compiled = Vec::new();
        for name in REQUESTS {
            // The whole document is the root, so `#/components/schemas/...` references
            // resolve; its other keys are not schema keywords and are ignored.
            let mut root = doc.clone();
            root["$ref"] = json!(format!("#/components/schemas/{name}"));
            root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
            compiled.push((name, build(&root, name)?));
        }
        let mut queries = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let Some(params) = item["get"]["parameters"].as_array() else {
                continue;
            };
            let mut props = serde_json::Map::new();
            let mut types = Vec::new();
            for p in params.iter().filter(|p| p["in"] == "query") {
                let name = p["name"].as_str().unwrap_or_default().to_string();
                props.insert(name.clone(), p["schema"].clone());
                types.push((
                    name,
                    p["schema"]["type"].as_str().unwrap_or("string").to_string(),
                ));
            }
            let schema = json!({"type": "object", "properties": props});
            queries.push(Query {
                path: path.clone(),
                types,
                validator: build(&schema, path)?,
            });
        }
        Ok(Validators { compiled, queries })
    }

    /// Check the query of `GET /api/v1.0{path}` against its parameters' schemas (parameters
    /// the document does not name are ignored).
    pub fn check_query(&self, path: &str, pairs: &[(String, String)]) -> Result<(), Vec<String>> {
        let Some(Query {
            types,
            validator: v,
            ..
        }) = self.queries.iter().find(|q| q.path == path)
        else {
            return Ok(());
        };
        let mut obj = serde_json::Map::new();
        for (name, ty) in types {
            let mut values = pairs
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone());
            let value = match ty.as_str() {
                "array" => Value::Array(values.map(Value::String).collect()),
                "boolean" => match values.next_back() {
                    Some(b) if b == "true" => Value::Bool(true),
                    Some(b) if b == "false" => Value::Bool(false),
                    Some(other) => Value::String(other),
                    None => continue,
                },
                _ => match values.next_back() {
                    Some(s) => Value::String(s),
                    None => continue,
                },
            };
            obj.insert(name.clone(), value);
        }
        let obj = Value::Object(obj);
        let problems: Vec<String> = v
            .iter_errors(&obj)
            .map(|e| format!("query parameter {}: {e}", e.instance_path()))
            .take(20)
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Every problem of `body` against schema `name`, each as `at PATH: what`.
    pub fn check(&self, name: &str, body: &Value) -> Result<(), Vec<String>> {
        let (_, v) = self
            .compiled
            .iter()
            .find(|(n, _)| *n == name)
            .expect("a schema named in REQUESTS");
        let problems: Vec<String> = v
            .iter_errors(body)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("at {}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .take(20)
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Every documented operation: (method, path under `/api/v1.0`).
pub fn operations() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(DOCUMENT).expect("openapi.json parses");
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for m in ["get", "post", "put", "patch", "delete"] {
                if item.get(m).is_some() {
                    out.push((m.to_uppercase(), path.clone()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies_are_checked_against_the_document() {
        let v = Validators::new().unwrap();
        assert!(
            v.check("TaskRequest", &json!({"action": "deploy_nodes"}))
                .is_ok()
        );
        let e = v
            .check("TaskRequest", &json!({"action": "deploy", "extra": 1}))
            .unwrap_err();
        assert!(e.iter().any(|p| p.starts_with("at /action:")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("extra")), "{e:?}");
        let e = v
            .check(
                "TaskRequest",
                &json!({"action": "verify_nodes", "node_filter": {"filter_set": [{"node_names": "n1"}]}}),
            )
            .unwrap_err();
        assert!(
            e.iter()
                .any(|p| p.starts_with("at /node_filter/filter_set/0/node_names:")),
            "{e:?}"
        );
        assert!(v.check("ValidateRequest", &json!({})).is_ok());
        let q = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            v.check_query("/plan", &pairs)
        };
        assert!(q(&[("target", "rack:a"), ("target", "n1"), ("other", "x")]).is_ok());
        assert!(q(&[("target", "shelf:a")]).is_err());
        let many: Vec<(&str, &str)> = (0..101).map(|_| ("target", "n")).collect();
        assert!(q(&many).is_err());
        let pairs = vec![("subtasks".to_string(), "maybe".to_string())];
        assert!(v.check_query("/tasks/{task_id}", &pairs).is_err());
        assert!(
            v.check("ValidateRequest", &json!({"documents": 3}))
                .is_err()
        );
    }
}
