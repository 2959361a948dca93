//! `/pushrules/…`: reading and changing the user's push rules.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};
use trellis_events::push;

use crate::error::{ErrCode, Error, Result};
use crate::http::{AppState, MatrixJson, User};

fn kind(name: &str) -> Result<ruma::push::RuleKind> {
    push::rule_kind(name).ok_or_else(|| Error::invalid_param(format!("Unknown push rule kind {name:?}")))
}

fn scope(name: &str) -> Result<()> {
    if name == "global" { Ok(()) } else { Err(Error::invalid_param("Only the 'global' scope exists")) }
}

/// The rule as JSON, found in the serialised ruleset.
fn rule_json(ruleset: &ruma::push::Ruleset, kind_name: &str, rule_id: &str) -> Result<Value> {
    let all = serde_json::to_value(ruleset).map_err(Error::internal)?;
    all.get(kind_name)
        .and_then(Value::as_array)
        .and_then(|rules| rules.iter().find(|r| r["rule_id"] == rule_id))
        .cloned()
        .ok_or_else(|| Error::not_found("Push rule not found"))
}

/// `GET /pushrules/`.
pub async fn all(State(state): State<AppState>, User(requester): User) -> Result<Json<Value>> {
    let ruleset = state.ruleset(&requester.user_id).await?;
    Ok(Json(json!({"global": *ruleset})))
}

/// `GET /pushrules/global/`.
pub async fn global(State(state): State<AppState>, User(requester): User) -> Result<Json<Value>> {
    let ruleset = state.ruleset(&requester.user_id).await?;
    Ok(Json(serde_json::to_value(&*ruleset).map_err(Error::internal)?))
}

/// `GET /pushrules/{scope}/{kind}/{ruleId}`.
pub async fn get_rule(
    State(state): State<AppState>,
    User(requester): User,
    Path((scope_name, kind_name, rule_id)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    scope(&scope_name)?;
    kind(&kind_name)?;
    let ruleset = state.ruleset(&requester.user_id).await?;
    Ok(Json(rule_json(&ruleset, &kind_name, &rule_id)?))
}

/// `PUT /pushrules/{scope}/{kind}/{ruleId}[?before=…&after=…]`.
pub async fn put_rule(
    State(state): State<AppState>,
    User(requester): User,
    Path((scope_name, kind_name, rule_id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    MatrixJson(body): MatrixJson<Value>,
) -> Result<Json<Value>> {
    scope(&scope_name)?;
    kind(&kind_name)?;
    let rule = push::new_rule(&kind_name, &rule_id, &body).map_err(Error::bad_json)?;
    state
        .update_ruleset(&requester.user_id, |ruleset| {
            ruleset
                .insert(rule, query.get("after").map(String::as_str), query.get("before").map(String::as_str))
                .map_err(|e| match e {
                    ruma::push::InsertPushRuleError::UnknownRuleId => Error::not_found(e.to_string()),
                    other => Error::invalid_param(other.to_string()),
                })
        })
        .await?;
    Ok(Json(json!({})))
}

/// `DELETE /pushrules/{scope}/{kind}/{ruleId}`.
pub async fn delete_rule(
    State(state): State<AppState>,
    User(requester): User,
    Path((scope_name, kind_name, rule_id)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    scope(&scope_name)?;
    let rule_kind = kind(&kind_name)?;
    state
        .update_ruleset(&requester.user_id, |ruleset| {
            ruleset.remove(rule_kind, &rule_id).map_err(|e| match e {
                ruma::push::RemovePushRuleError::NotFound => Error::not_found("Push rule not found"),
                other => {
                    Error::with_status(axum::http::StatusCode::BAD_REQUEST, ErrCode::InvalidParam, other.to_string())
                }
            })
        })
        .await?;
    Ok(Json(json!({})))
}

/// `GET /pushrules/{scope}/{kind}/{ruleId}/{attribute}` (`enabled`, `actions`).
pub async fn get_attribute(
    State(state): State<AppState>,
    User(requester): User,
    Path((scope_name, kind_name, rule_id, attribute)): Path<(String, String, String, String)>,
) -> Result<Json<Value>> {
    scope(&scope_name)?;
    kind(&kind_name)?;
    let ruleset = state.ruleset(&requester.user_id).await?;
    let rule = rule_json(&ruleset, &kind_name, &rule_id)?;
    match attribute.as_str() {
        "enabled" => Ok(Json(json!({"enabled": rule["enabled"]}))),
        "actions" => Ok(Json(json!({"actions": rule["actions"]}))),
        other => Err(Error::new(ErrCode::Unrecognized, format!("Unknown attribute {other}"))),
    }
}

/// `PUT /pushrules/{scope}/{kind}/{ruleId}/{attribute}`.
pub async fn put_attribute(
    State(state): State<AppState>,
    User(requester): User,
    Path((scope_name, kind_name, rule_id, attribute)): Path<(String, String, String, String)>,
    MatrixJson(body): MatrixJson<Value>,
) -> Result<Json<Value>> {
    scope(&scope_name)?;
    let rule_kind = kind(&kind_name)?;
    let not_found = |_| Error::not_found("Push rule not found");
    match attribute.as_str() {
        "enabled" => {
            let enabled =
                body.get("enabled").and_then(Value::as_bool).ok_or_else(|| Error::missing_param("enabled"))?;
            state
                .update_ruleset(&requester.user_id, |r| r.set_enabled(rule_kind, &rule_id, enabled).map_err(not_found))
                .await?;
        }
        "actions" => {
            let actions = push::actions(body.get("actions").ok_or_else(|| Error::missing_param("actions"))?)
                .map_err(Error::bad_json)?;
            state
                .update_ruleset(&requester.user_id, |r| r.set_actions(rule_kind, &rule_id, actions).map_err(not_found))
                .await?;
        }
        other => return Err(Error::new(ErrCode::Unrecognized, format!("Unknown attribute {other}"))),
    }
    Ok(Json(json!({})))
}
