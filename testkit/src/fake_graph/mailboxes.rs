//! Several mailboxes in one tenant, for org mode (app-only tokens read every user's calendar):
//! `/users/{upn|id}/…` names the mailbox. Every mailbox has its own events, change log, delta
//! and skip tokens, writes and direct reports; the tenant's OAuth state, faults, request log
//! and the users directory (`users.rs`) are shared.
//!
//! How: the [`State`] fields of one mailbox are "the active mailbox"; the others wait in
//! [`State::mailboxes`]. A request to a mailbox path activates its mailbox first (swapping the
//! fields), so every existing handler serves whichever mailbox the path names, unchanged.
//! `/me/…` is the signed-in owner's mailbox ([`State::owner`], the delegated flows' user).
//! An unknown `/users/{x}` keeps the active mailbox and gets the usual 404 `ErrorInvalidUser`.
//! Test helpers that seed events act on the active mailbox: select one with
//! [`super::FakeGraph::use_mailbox`] first.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::state::{DeltaState, Event, Round, State};

/// One mailbox that is not active right now.
#[derive(Debug, Default)]
pub struct Mailbox {
    pub user: String,
    pub user_id: String,
    pub user_name: String,
    pub events: BTreeMap<String, Event>,
    pub seq: u64,
    pub changes: Vec<(u64, Vec<String>)>,
    pub silent: HashSet<String>,
    pub generation: u64,
    pub delta_tokens: HashMap<String, DeltaState>,
    pub rounds: HashMap<u64, Round>,
    pub skip_tokens: HashMap<String, (u64, usize, u64)>,
    pub writes: super::write::WriteState,
    pub directory: Vec<Value>,
}

impl State {
    fn swap_mailbox(&mut self, m: &mut Mailbox) {
        use std::mem::swap;
        swap(&mut self.default_user, &mut m.user);
        swap(&mut self.user_id, &mut m.user_id);
        swap(&mut self.user_name, &mut m.user_name);
        swap(&mut self.events, &mut m.events);
        swap(&mut self.seq, &mut m.seq);
        swap(&mut self.changes, &mut m.changes);
        swap(&mut self.silent, &mut m.silent);
        swap(&mut self.generation, &mut m.generation);
        swap(&mut self.delta_tokens, &mut m.delta_tokens);
        swap(&mut self.rounds, &mut m.rounds);
        swap(&mut self.skip_tokens, &mut m.skip_tokens);
        swap(&mut self.writes, &mut m.writes);
        swap(&mut self.directory, &mut m.directory);
    }

    /// Make `who` (a UPN or an id, case-insensitive) the active mailbox; false when there is no
    /// such mailbox (the active one stays).
    pub fn activate(&mut self, who: &str) -> bool {
        if who.eq_ignore_ascii_case(&self.default_user) || who.eq_ignore_ascii_case(&self.user_id) {
            return true;
        }
        let Some(key) = self
            .mailboxes
            .iter()
            .find(|(k, m)| k.eq_ignore_ascii_case(who) || m.user_id.eq_ignore_ascii_case(who))
            .map(|(k, _)| k.clone())
        else {
            return false;
        };
        let Some(mut m) = self.mailboxes.remove(&key) else {
            return false;
        };
        self.swap_mailbox(&mut m);
        self.mailboxes.insert(m.user.to_ascii_lowercase(), m);
        true
    }

    /// Adds an empty mailbox for `upn` (its id derived from the counter).
    pub fn add_mailbox(&mut self, upn: &str, name: &str) {
        if self.activate(upn) {
            return;
        }
        self.counter += 1;
        let id = super::errors::guid(self.counter.wrapping_add(1 << 44));
        self.mailboxes.insert(
            upn.to_ascii_lowercase(),
            Mailbox {
                user: upn.to_string(),
                user_id: id,
                user_name: name.to_string(),
                ..Mailbox::default()
            },
        );
    }
}
