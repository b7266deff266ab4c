//! Which groups may show their figures (docs/org-rollup.md, "Suppression").
//!
//! Every figure of the rollup is a sum over people (a count of people with some property) or an
//! order statistic over them. Take the groups that are shown and split the people into cells by
//! which shown groups they belong to (the cells of the groups' Venn diagram). Any sum or
//! difference of shown figures is then a sum of per-cell figures, so as long as every cell is
//! empty or holds at least `k` people, no combination of shown figures — a parent total minus
//! its shown children, one group minus another, across org units and managers alike — can say
//! anything about fewer than `k` people.
//!
//! The rule: first suppress every group of fewer than `k` people (primary suppression); then,
//! while some cell holds between 1 and `k − 1` people, suppress one more group (complementary
//! suppression): preferably the smallest whose removal merges that cell into a neighbouring one,
//! else the smallest containing it, else the smallest shown. The group `keep` (the whole
//! organisation) is never chosen while another remains. Each round suppresses one group, so it
//! ends; with only `keep` shown there is one cell, `keep` itself, of at least `k` people.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Suppression;

/// Per group: `None` when its figures may be shown, else why not.
pub(super) fn decide(sets: &[&BTreeSet<usize>], k: usize, keep: usize) -> Vec<Option<Suppression>> {
    let mut out: Vec<Option<Suppression>> = sets
        .iter()
        .map(|s| (s.len() < k).then_some(Suppression::FewerThanMinGroup))
        .collect();
    let mut member_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (g, set) in sets.iter().enumerate() {
        for &p in set.iter() {
            member_of.entry(p).or_default().push(g);
        }
    }
    loop {
        let cells = cells(&member_of, &out);
        let small = cells
            .iter()
            .filter(|(_, n)| **n < k)
            .min_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        let Some((signature, _)) = small else {
            break;
        };
        let victim = choose(signature, &cells, sets, &out, keep);
        out[victim] = Some(Suppression::Complementary);
    }
    out
}

/// The non-empty cells of the shown groups: the sorted shown groups a person is in → how many
/// people are in exactly those. People in no shown group are in no figure and not counted.
fn cells(
    member_of: &BTreeMap<usize, Vec<usize>>,
    out: &[Option<Suppression>],
) -> HashMap<Vec<usize>, usize> {
    let mut cells: HashMap<Vec<usize>, usize> = HashMap::new();
    for groups in member_of.values() {
        let signature: Vec<usize> = groups
            .iter()
            .copied()
            .filter(|&g| out[g].is_none())
            .collect();
        if !signature.is_empty() {
            *cells.entry(signature).or_default() += 1;
        }
    }
    cells
}

fn choose(
    signature: &[usize],
    cells: &HashMap<Vec<usize>, usize>,
    sets: &[&BTreeSet<usize>],
    out: &[Option<Suppression>],
    keep: usize,
) -> usize {
    let shown: Vec<usize> = (0..sets.len())
        .filter(|&g| out[g].is_none() && g != keep)
        .collect();
    let size = |g: &usize| (sets[*g].len(), *g);
    // Removing `g` flips its bit in the cell's signature: a merge when that cell exists (or when
    // the cell would then be in no shown group at all).
    let merges = |g: usize| {
        let mut flipped = signature.to_vec();
        match flipped.binary_search(&g) {
            Ok(i) => {
                flipped.remove(i);
            }
            Err(i) => flipped.insert(i, g),
        }
        flipped.is_empty() || cells.contains_key(&flipped)
    };
    shown
        .iter()
        .copied()
        .filter(|&g| merges(g))
        .min_by_key(size)
        .or_else(|| {
            shown
                .iter()
                .copied()
                .filter(|g| signature.contains(g))
                .min_by_key(size)
        })
        .or_else(|| shown.iter().copied().min_by_key(size))
        .unwrap_or(keep)
}
