//! The production settings of template.yaml that cfn-lint cannot judge: encryption, recovery and
//! deletion protection of the data tables, least-privilege policies, throttling, TLS, dead-letter
//! queues, alarms and secrets.

use serde_yaml::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(local_stack::provision::template_path()).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// Returns the logical ids and bodies of the resources of one type.
fn resources<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(id, resource)| (id.as_str().unwrap(), resource))
        .collect()
}

/// Returns the text inside a tag such as `!Ref TablesKey`, or the plain string.
fn tagged_text(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => tagged_text(&tagged.value),
        Value::String(text) => text.clone(),
        other => format!("{other:?}"),
    }
}

#[test]
fn data_tables_are_encrypted_recoverable_and_kept() {
    let template = template();
    let tables = resources(&template, "AWS::DynamoDB::Table");
    assert_eq!(
        tables.len(),
        6,
        "tables: {:?}",
        tables.iter().map(|t| t.0).collect::<Vec<_>>()
    );
    for (id, table) in tables {
        let properties = &table["Properties"];
        assert_eq!(
            properties["SSESpecification"]["SSEType"].as_str(),
            Some("KMS"),
            "{id}"
        );
        assert_eq!(
            tagged_text(&properties["SSESpecification"]["KMSMasterKeyId"]),
            "TablesKey",
            "{id}"
        );
        // The dedupe table contains only event ids, which expire after seven days.
        if id == "IdempotencyTable" {
            continue;
        }
        assert_eq!(table["DeletionPolicy"].as_str(), Some("Retain"), "{id}");
        assert_eq!(
            properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
            Some(true),
            "{id}"
        );
        assert_eq!(
            properties["DeletionProtectionEnabled"].as_bool(),
            Some(true),
            "{id}"
        );
    }

    let key_policy = format!(
        "{:?}",
        resources(&template, "AWS::KMS::Key")[0].1["Properties"]["KeyPolicy"]
    );
    assert!(
        key_policy.contains("kms:ViaService"),
        "the key is usable only through DynamoDB"
    );
}

#[test]
fn function_policies_name_actions_and_resources() {
    let template = template();
    let functions = resources(&template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 5);
    for (id, function) in functions {
        let policies = function["Properties"]["Policies"].as_sequence().unwrap();
        // Items without a Statement are SAM policy templates, which take the resource they allow.
        let statements = policies
            .iter()
            .filter_map(|policy| policy["Statement"].as_sequence())
            .flatten();
        for statement in statements {
            let actions = format!("{:?}", statement["Action"]);
            assert!(
                !actions.contains('*'),
                "{id} has a wildcard action: {actions}"
            );
            // ses:GetAccount reads the account's quota and has no resource to name in IAM.
            let account_wide = actions == r#"Sequence [String("ses:GetAccount")]"#;
            let resource = tagged_text(&statement["Resource"]);
            if !account_wide {
                assert_ne!(resource, "*", "{id} allows {actions} on every resource");
            }
        }
        let policies = format!("{policies:?}");
        assert!(
            policies.contains("secretsmanager:GetSecretValue"),
            "{id} cannot read the secret"
        );
    }
}

#[test]
fn async_triggers_have_dead_letter_queues() {
    let template = template();
    for (id, function) in resources(&template, "AWS::Serverless::Function") {
        let Some(events) = function["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (name, event) in events {
            let kind = event["Type"].as_str().unwrap();
            if kind == "HttpApi" {
                continue;
            }
            assert_eq!(
                event["Properties"]["DeadLetterConfig"]["Type"].as_str(),
                Some("SQS"),
                "{id} {name:?} ({kind}) has no dead-letter queue"
            );
        }
    }
}

#[test]
fn alarms_cover_functions_queues_and_ses() {
    let template = template();
    let alarms = resources(&template, "AWS::CloudWatch::Alarm");
    let names: Vec<&str> = alarms.iter().map(|(id, _)| *id).collect();
    for (function, _) in resources(&template, "AWS::Serverless::Function") {
        for kind in ["Errors", "Throttles"] {
            let alarm = format!("{function}{kind}Alarm");
            assert!(names.contains(&alarm.as_str()), "missing {alarm}");
        }
    }
    for alarm in [
        "SesEventsDeadLetterQueueDepthAlarm",
        "SenderScheduleDeadLetterQueueDepthAlarm",
        "SesBounceRateAlarm",
        "SesComplaintRateAlarm",
    ] {
        assert!(names.contains(&alarm), "missing {alarm}");
    }
    for (id, alarm) in alarms {
        let actions = format!("{:?}", alarm["Properties"]["AlarmActions"]);
        assert!(actions.contains("AlarmTopic"), "{id} notifies nobody");
    }
}

#[test]
fn api_throttles_and_ses_requires_tls() {
    let template = template();
    let api = resources(&template, "AWS::Serverless::HttpApi")[0].1;
    assert!(
        api["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"]
            .as_u64()
            .is_some()
    );
    let set = resources(&template, "AWS::SES::ConfigurationSet")[0].1;
    assert_eq!(
        set["Properties"]["DeliveryOptions"]["TlsPolicy"].as_str(),
        Some("REQUIRE")
    );
}

#[test]
fn secrets_are_named_not_given() {
    let template = template();
    let variables = format!(
        "{:?}",
        template["Globals"]["Function"]["Environment"]["Variables"]
    );
    for name in ["HASH_PEPPER", "TOKEN_KEYS", "resolve:secretsmanager"] {
        assert!(
            !variables.contains(name),
            "{name} is in the function environment"
        );
    }
    assert!(variables.contains("SECRET_ID"));
    for (name, parameter) in template["Parameters"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if name.contains("Pepper") || name.contains("Key") {
            assert!(
                parameter.get("Default").is_none(),
                "{name} has a default value"
            );
        }
    }
}
