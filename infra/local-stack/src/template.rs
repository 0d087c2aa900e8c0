//! Reads the DynamoDB table definitions from template.yaml, so the local stack and the tests
//! create exactly the keys, indexes and TTL that a deployment gets.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use serde_yaml::Value;

/// One key of a table or index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyElement {
    /// Attribute name.
    pub attribute: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

/// A global secondary index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDefinition {
    /// Index name.
    pub name: String,
    /// Key schema.
    pub keys: Vec<KeyElement>,
    /// Projection type: `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: String,
}

/// A table as template.yaml declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDefinition {
    /// Logical id in the template, such as `ShoppersTable`.
    pub logical_id: String,
    /// Environment variable that carries the table's name to the functions.
    pub env_var: String,
    /// Attribute definitions as (name, type).
    pub attributes: Vec<(String, String)>,
    /// Key schema.
    pub keys: Vec<KeyElement>,
    /// Global secondary indexes.
    pub indexes: Vec<IndexDefinition>,
    /// TTL attribute, if enabled.
    pub ttl_attribute: Option<String>,
}

/// Loads every AWS::DynamoDB::Table of a SAM template together with the global environment
/// variable that names it (`NAME: !Ref LogicalId`).
pub fn load_tables(path: &Path) -> anyhow::Result<Vec<TableDefinition>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    parse_tables(&text)
}

/// Parses the table definitions from template text.
pub fn parse_tables(text: &str) -> anyhow::Result<Vec<TableDefinition>> {
    let template: Value = serde_yaml::from_str(text).context("template is not valid YAML")?;

    let mut env_by_table = BTreeMap::new();
    if let Some(Value::Mapping(variables)) = template
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Environment"))
        .and_then(|e| e.get("Variables"))
    {
        for (name, value) in variables {
            if let (Some(name), Value::Tagged(tagged)) = (name.as_str(), value) {
                if tagged.tag == "Ref" {
                    if let Some(target) = tagged.value.as_str() {
                        env_by_table.insert(target.to_owned(), name.to_owned());
                    }
                }
            }
        }
    }

    let Some(Value::Mapping(resources)) = template.get("Resources") else {
        bail!("template has no Resources");
    };
    let mut tables = Vec::new();
    for (logical_id, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::DynamoDB::Table") {
            continue;
        }
        let logical_id = logical_id
            .as_str()
            .context("resource id is not a string")?
            .to_owned();
        let properties = resource
            .get("Properties")
            .with_context(|| format!("{logical_id} has no Properties"))?;
        let env_var = env_by_table
            .get(&logical_id)
            .with_context(|| format!("no Globals environment variable refers to {logical_id}"))?
            .clone();

        let attributes = sequence(properties, "AttributeDefinitions")?
            .iter()
            .map(|a| {
                Ok((
                    text_field(a, "AttributeName")?,
                    text_field(a, "AttributeType")?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let keys = key_schema(properties)?;
        let indexes = match properties.get("GlobalSecondaryIndexes") {
            Some(Value::Sequence(list)) => list
                .iter()
                .map(|index| {
                    Ok(IndexDefinition {
                        name: text_field(index, "IndexName")?,
                        keys: key_schema(index)?,
                        projection: index
                            .get("Projection")
                            .and_then(|p| p.get("ProjectionType"))
                            .and_then(Value::as_str)
                            .unwrap_or("ALL")
                            .to_owned(),
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
            _ => Vec::new(),
        };
        let ttl_attribute = properties
            .get("TimeToLiveSpecification")
            .filter(|ttl| ttl.get("Enabled").and_then(Value::as_bool) == Some(true))
            .and_then(|ttl| ttl.get("AttributeName"))
            .and_then(Value::as_str)
            .map(str::to_owned);

        tables.push(TableDefinition {
            logical_id,
            env_var,
            attributes,
            keys,
            indexes,
            ttl_attribute,
        });
    }
    Ok(tables)
}

fn sequence<'a>(value: &'a Value, name: &str) -> anyhow::Result<&'a Vec<Value>> {
    match value.get(name) {
        Some(Value::Sequence(list)) => Ok(list),
        _ => bail!("{name} is missing or not a list"),
    }
}

fn text_field(value: &Value, name: &str) -> anyhow::Result<String> {
    value
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("{name} is missing or not a string"))
}

fn key_schema(value: &Value) -> anyhow::Result<Vec<KeyElement>> {
    sequence(value, "KeySchema")?
        .iter()
        .map(|k| {
            Ok(KeyElement {
                attribute: text_field(k, "AttributeName")?,
                key_type: text_field(k, "KeyType")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_table_of_the_project_template() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        let tables = load_tables(&path).unwrap();
        let names: Vec<_> = tables.iter().map(|t| t.env_var.as_str()).collect();
        assert_eq!(
            names,
            [
                "STORES_TABLE",
                "SHOPPERS_TABLE",
                "SUPPRESSION_TABLE",
                "IDEMPOTENCY_TABLE",
                "STATS_TABLE",
                "PRIVACY_TABLE"
            ]
        );

        let shoppers = tables
            .iter()
            .find(|t| t.logical_id == "ShoppersTable")
            .unwrap();
        assert_eq!(shoppers.indexes[0].name, common::storage::DUE_INDEX);
        assert_eq!(shoppers.ttl_attribute.as_deref(), Some("expires_at"));
        let stores = tables
            .iter()
            .find(|t| t.logical_id == "StoresTable")
            .unwrap();
        assert_eq!(stores.indexes[0].name, common::storage::SHOP_DOMAIN_INDEX);
    }

    #[test]
    fn rejects_a_table_no_function_can_find() {
        let text = "Resources:\n  Orphan:\n    Type: AWS::DynamoDB::Table\n    Properties: {}\n";
        let error = parse_tables(text).unwrap_err().to_string();
        assert!(error.contains("Orphan"), "{error}");
    }
}
