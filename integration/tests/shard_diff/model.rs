//! What the generator remembers about the data (keys ever used) and the random column values.
//!
//! A primary key is bound to its sharding key forever (`orders` id 17 always has the same
//! user_id), so a duplicate key collides on the same sub-table through the proxy exactly as it
//! collides in the reference; the generator never relies on whether a row still exists.

use std::collections::HashSet;

use super::rng::Rng;

/// Users 1..=USERS own the orders (mod 8 spreads them over all sub-tables).
pub const USERS: i64 = 60;
/// events ids live in 1..=EVENT_MAX; the range rule splits them at 5000.
pub const EVENT_MAX: i64 = 9_999;

const STATUSES: [&str; 5] = ["new", "paid", "shipped", "cancelled", "returned"];
const NOTES: [&str; 8] = [
    "de-gift",
    "fr-rush",
    "us-bulk",
    "plain",
    "jp-gift",
    "fragile",
    "es-rush",
    "call-first",
];
const OWNERS: [&str; 6] = ["ana", "bo", "chen", "dmitri", "eve", "farah"];
const KINDS: [&str; 4] = ["click", "view", "buy", "share"];
const WORDS: [&str; 8] = [
    "alpha", "Bravo", "charlie", "Delta", "echo", "Foxtrot", "golf", "hotel",
];
pub const BASE_COUNTRIES: [(&str, &str); 8] = [
    ("DE", "Germany"),
    ("FR", "France"),
    ("US", "United States"),
    ("JP", "Japan"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("BR", "Brazil"),
    ("IN", "India"),
];

pub struct Model {
    pub rng: Rng,
    /// Percent of the parameterisable statements generated as prepared statements.
    pub prepared_percent: u32,
    /// Percent of the steps that are a transaction (BEGIN, 2-6 statements, COMMIT/ROLLBACK).
    pub txn_percent: u32,
    /// Percent of the steps that are a session-transaction block (gen_session_txn).
    pub session_percent: u32,
    /// Percent of the steps that are a client XA transaction (gen_xa).
    pub xa_percent: u32,
    /// XA transactions generated so far (numbers their xids).
    pub xa_count: u32,
    /// (id, user_id) of every order id ever generated.
    pub orders: Vec<(i64, i64)>,
    /// (id, user_id, order_id) of every order item id ever generated.
    pub items: Vec<(i64, i64, i64)>,
    pub accounts: Vec<i64>,
    pub events: Vec<i64>,
    pub tags: Vec<String>,
    pub countries: Vec<String>,
    pub notes: Vec<i64>,
    used_accounts: HashSet<i64>,
    used_events: HashSet<i64>,
    used_tags: HashSet<String>,
}

impl Model {
    pub fn new(seed: u64) -> Model {
        Model {
            rng: Rng::new(seed),
            prepared_percent: 0,
            txn_percent: 0,
            session_percent: 0,
            xa_percent: 0,
            xa_count: 0,
            orders: Vec::new(),
            items: Vec::new(),
            accounts: Vec::new(),
            events: Vec::new(),
            tags: Vec::new(),
            countries: BASE_COUNTRIES.iter().map(|c| c.0.to_string()).collect(),
            notes: Vec::new(),
            used_accounts: HashSet::new(),
            used_events: HashSet::new(),
            used_tags: HashSet::new(),
        }
    }

    pub fn user(&mut self) -> i64 {
        self.rng.range(1, USERS)
    }

    /// A sharding-key literal: usually the number, sometimes the string `'42'`.
    pub fn key_lit(&mut self, v: i64) -> String {
        if self.rng.chance(15) {
            format!("'{v}'")
        } else {
            v.to_string()
        }
    }

    /// `n` distinct users, as a comma list of key literals.
    pub fn user_list(&mut self, n: usize) -> String {
        let mut users: Vec<i64> = Vec::new();
        while users.len() < n {
            let u = self.user();
            if !users.contains(&u) {
                users.push(u);
            }
        }
        let lits: Vec<String> = users.iter().map(|u| self.key_lit(*u)).collect();
        lits.join(", ")
    }

    pub fn money(&mut self, max_units: i64) -> String {
        let cents = self.rng.range(100, max_units * 100);
        format!("{}.{:02}", cents / 100, cents % 100)
    }

    pub fn status(&mut self) -> &'static str {
        STATUSES[self.rng.below(STATUSES.len())]
    }

    /// A note literal: NULL a quarter of the time.
    pub fn note(&mut self) -> String {
        if self.rng.chance(25) {
            "NULL".to_string()
        } else {
            format!("'{}'", self.rng.pick(&NOTES))
        }
    }

    pub fn date(&mut self) -> String {
        format!(
            "'2024-{:02}-{:02}'",
            self.rng.range(1, 12),
            self.rng.range(1, 28)
        )
    }

    pub fn sku(&mut self) -> String {
        format!("sku-{:02}", self.rng.range(1, 15))
    }

    pub fn owner(&mut self) -> &'static str {
        OWNERS[self.rng.below(OWNERS.len())]
    }

    pub fn kind(&mut self) -> &'static str {
        KINDS[self.rng.below(KINDS.len())]
    }

    /// A score literal: NULL a fifth of the time.
    pub fn score(&mut self) -> String {
        if self.rng.chance(20) {
            "NULL".to_string()
        } else {
            self.rng.range(-50, 100).to_string()
        }
    }

    /// A new order id for `user` (or a random user).
    pub fn new_order(&mut self, user: Option<i64>) -> (i64, i64) {
        let user = user.unwrap_or_else(|| self.user());
        let id = self.orders.len() as i64 + 1;
        self.orders.push((id, user));
        (id, user)
    }

    pub fn any_order(&mut self) -> (i64, i64) {
        *self.rng.pick(&self.orders)
    }

    /// A new item id, for an existing order (same user).
    pub fn new_item(&mut self) -> (i64, i64, i64) {
        let (order, user) = self.any_order();
        let id = self.items.len() as i64 + 1;
        self.items.push((id, user, order));
        (id, user, order)
    }

    pub fn any_item(&mut self) -> (i64, i64, i64) {
        *self.rng.pick(&self.items)
    }

    pub fn new_account(&mut self) -> i64 {
        loop {
            let id = self.rng.range(1, 99_999);
            if self.used_accounts.insert(id) {
                self.accounts.push(id);
                return id;
            }
        }
    }

    pub fn new_event(&mut self) -> i64 {
        self.new_event_in(1, EVENT_MAX)
    }

    /// A new events id in `lo..=hi`.
    pub fn new_event_in(&mut self, lo: i64, hi: i64) -> i64 {
        loop {
            let id = self.rng.range(lo, hi);
            if self.used_events.insert(id) {
                self.events.push(id);
                return id;
            }
        }
    }

    /// A new tag name, unique case-insensitively; mixed case.
    pub fn new_tag(&mut self) -> String {
        loop {
            let name = format!("{}{}", self.rng.pick(&WORDS), self.rng.range(1, 999));
            if self.used_tags.insert(name.to_lowercase()) {
                self.tags.push(name.clone());
                return name;
            }
        }
    }

    /// An existing tag name, its letters' case sometimes flipped (same key, case-insensitively).
    pub fn any_tag(&mut self) -> String {
        let name = self.rng.pick(&self.tags).clone();
        if self.rng.chance(30) {
            name.chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        } else {
            name
        }
    }

    /// A new two-letter country code.
    pub fn new_country(&mut self) -> String {
        loop {
            let a = (b'A' + self.rng.below(26) as u8) as char;
            let b = (b'A' + self.rng.below(26) as u8) as char;
            let code = format!("{a}{b}");
            if !self.countries.contains(&code) {
                self.countries.push(code.clone());
                return code;
            }
        }
    }

    pub fn new_note(&mut self) -> i64 {
        let id = self.notes.len() as i64 + 1;
        self.notes.push(id);
        id
    }

    pub fn order_row(&mut self, id: i64, user: i64) -> String {
        let (amount, status) = (self.money(999), self.status());
        let (note, date) = (self.note(), self.date());
        format!("({id}, {user}, {amount}, '{status}', {note}, {date})")
    }

    pub fn item_row(&mut self, (id, user, order): (i64, i64, i64)) -> String {
        let (sku, qty, price) = (self.sku(), self.rng.range(1, 10), self.money(99));
        format!("({id}, {user}, {order}, '{sku}', {qty}, {price})")
    }

    pub fn account_row(&mut self, id: i64) -> String {
        let (owner, balance) = (self.owner(), self.money(5000));
        format!("({id}, '{owner}', {balance})")
    }

    pub fn event_row(&mut self, id: i64) -> String {
        let (kind, score) = (self.kind(), self.score());
        format!("({id}, '{kind}', {score})")
    }

    pub fn tag_row(&mut self, name: &str) -> String {
        format!("('{name}', {})", self.rng.range(0, 500))
    }

    pub fn note_row(&mut self, id: i64) -> String {
        format!("({id}, 'note {}')", self.rng.range(1, 9999))
    }
}

/// Column lists of the INSERTs, per table.
pub const ORDER_COLS: &str = "orders (id, user_id, amount, status, note, created)";
pub const ITEM_COLS: &str = "order_items (id, user_id, order_id, sku, qty, price)";
pub const ACCOUNT_COLS: &str = "accounts (account_id, owner, balance)";
pub const EVENT_COLS: &str = "events (id, kind, score)";
pub const TAG_COLS: &str = "tags (name, uses)";
pub const COUNTRY_COLS: &str = "countries (code, name)";
pub const NOTE_COLS: &str = "notes (id, body)";
