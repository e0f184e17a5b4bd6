//! `list` in its three shapes: the tabwriter table, JSON, and ids only.

mod common;

use common::Sandbox;
use serde_json::Value;
use std::fs;

/// runc's table header when there are no rows: every column at Go
/// tabwriter's minimum width of 12.
const EMPTY_HEADER: &str = "ID          PID         STATUS      BUNDLE      CREATED     OWNER";

/// Lay out rows as Go's text/tabwriter does with runc's settings (minwidth
/// 12, tabwidth 1, padding 3, padchar ' ', no flags): each tab-terminated
/// cell is padded to its column's widest cell plus 3, at least 12; the last
/// cell of a line is not in a column and is not padded.
fn tabwriter(rows: &[Vec<String>]) -> String {
    let columns = rows
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .saturating_sub(1);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count() + 3)
                .max()
                .unwrap()
                .max(12)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            text.push_str(cell);
            if c < columns {
                text.push_str(&" ".repeat(widths[c] - cell.chars().count()));
            }
        }
        text.push('\n');
    }
    text
}

/// A sandbox with two containers: the first created, the second running.
fn two_containers(test: &str) -> (Sandbox, [String; 2]) {
    let mut sb = Sandbox::new(test);
    sb.bundle.args(&["sleep", "1000"]);
    let ids = [sb.other_id("a"), sb.other_id("b")];
    sb.create(&ids[0]);
    sb.create_and_start(&ids[1]);
    (sb, ids)
}

#[test]
fn table_of_an_empty_root_is_just_the_header() {
    let sb = Sandbox::new("list_empty");
    fs::create_dir_all(&sb.rt.root).unwrap();
    let out = sb.rt.ok(&["list"]);
    assert_eq!(out.stdout, format!("{EMPTY_HEADER}\n"));
}

#[test]
fn table_of_a_missing_root_is_just_the_header() {
    // Engines list before they ever created a container.
    let sb = Sandbox::new("list_missing_root");
    let out = sb.rt.ok(&["list"]);
    assert_eq!(out.stdout, format!("{EMPTY_HEADER}\n"));
}

#[test]
fn table_lists_each_container_in_tabwriter_layout() {
    let (sb, ids) = two_containers("list_table");
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec()];
    for (id, status) in ids.iter().zip(["created", "running"]) {
        let state = sb.rt.state(id);
        assert_eq!(state["status"], status);
        rows.push(vec![
            id.clone(),
            state["pid"].to_string(),
            status.to_string(),
            state["bundle"].as_str().unwrap().to_string(),
            state["created"].as_str().unwrap().to_string(),
            // The owner of the state directory, by name: the tests run as root.
            "root".to_string(),
        ]);
    }
    let out = sb.rt.ok(&["list"]);
    assert_eq!(out.stdout, tabwriter(&rows));
}

#[test]
fn json_lists_the_state_of_each_container() {
    let (sb, ids) = two_containers("list_json");
    let out = sb.rt.ok(&["list", "--format", "json"]);
    let list: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    let items = list.as_array().expect("a JSON array");
    assert_eq!(items.len(), 2, "{out}");
    for (item, id) in items.iter().zip(&ids) {
        let state = sb.rt.state(id);
        for field in [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
        ] {
            assert_eq!(
                item[field], state[field],
                "{field} of {id} differs from state"
            );
        }
        // `list` names the owner where `state` leaves it empty (runc does so).
        assert_eq!(item["owner"], "root");
    }
}

#[test]
fn json_of_an_empty_root_is_null() {
    // runc marshals its nil slice as `null`; drop-in means the same bytes.
    let sb = Sandbox::new("list_json_empty");
    fs::create_dir_all(&sb.rt.root).unwrap();
    let out = sb.rt.ok(&["list", "--format", "json"]);
    assert_eq!(out.stdout.trim_end(), "null");
}

#[test]
fn quiet_prints_the_ids_in_order() {
    let (sb, ids) = two_containers("list_quiet");
    let out = sb.rt.ok(&["list", "-q"]);
    assert_eq!(out.stdout, format!("{}\n{}\n", ids[0], ids[1]));
}
