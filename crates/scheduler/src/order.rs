//! The order the queue is served in.

use std::cmp::Reverse;

use crate::{Job, Policy};

/// A deadline is at risk when less slack than this is left after the print itself: enough to absorb a failed
/// first layer and a reprint start, not so much that every dated job jumps the queue.
const AT_RISK_SLACK_S: f64 = 2.0 * 3600.0;

/// The order jobs are served in (fair share + priority + deadline), as indices into `jobs`; exposed so the
/// queue page can show it.
///
/// Higher priority first. Within a priority, jobs whose deadline is at risk (less than two hours of slack,
/// or past) go first, earliest deadline first. The rest take turns by owner: a job's fair rank is what its
/// owner already runs plus its place among the owner's other such jobs of that priority (oldest first), so
/// users alternate and nobody's long list starves the others. Ties go to the older job, then the lower id.
pub fn service_order(jobs: &[Job], policy: &Policy) -> Vec<usize> {
    let now = policy.now_s;
    let at_risk: Vec<bool> =
        jobs.iter().map(|j| j.deadline_s.is_some_and(|d| d - now - j.duration_s < AT_RISK_SLACK_S)).collect();
    // Integer keys, built once: sorting compares them O(n log n) times.
    let age = |i: usize| (ordered(jobs[i].submitted_s), jobs[i].id, i);

    // Urgent jobs are ordered by deadline instead, so they take no turn in the rotation.
    let mut by_owner: Vec<_> =
        (0..jobs.len()).filter(|&i| !at_risk[i]).map(|i| (jobs[i].owner, jobs[i].priority, age(i))).collect();
    by_owner.sort_unstable();
    let mut fair_rank = vec![0u64; jobs.len()];
    let mut turn = 0;
    for (k, &(owner, priority, (.., i))) in by_owner.iter().enumerate() {
        let same_run = k > 0 && (by_owner[k - 1].0, by_owner[k - 1].1) == (owner, priority);
        turn = if same_run { turn + 1 } else { policy.running.get(&owner).copied().unwrap_or(0) as u64 };
        fair_rank[i] = turn;
    }

    let mut keys: Vec<_> = (0..jobs.len())
        .map(|i| {
            let then = match at_risk[i] {
                true => ordered(jobs[i].deadline_s.unwrap_or(f64::INFINITY)),
                false => fair_rank[i],
            };
            (Reverse(jobs[i].priority), !at_risk[i], then, age(i))
        })
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(|(.., (_, _, i))| i).collect()
}

/// An integer that sorts like `f64::total_cmp`.
fn ordered(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn ids(jobs: &[Job], order: &[usize]) -> Vec<i64> {
        order.iter().map(|&i| jobs[i].id).collect()
    }

    #[test]
    fn higher_priority_first() {
        let mut jobs = vec![job(1), job(2)];
        jobs[1].priority = 5;
        assert_eq!(ids(&jobs, &service_order(&jobs, &policy())), [2, 1]);
    }

    #[test]
    fn users_take_turns() {
        let mut jobs: Vec<Job> = (1..=6).map(job).collect();
        for j in &mut jobs[..4] {
            j.owner = 10; // submitted first, but one user
        }
        jobs[4].owner = 20;
        jobs[5].owner = 30;
        assert_eq!(ids(&jobs, &service_order(&jobs, &policy())), [1, 5, 6, 2, 3, 4]);
    }

    #[test]
    fn running_jobs_count_toward_the_turn() {
        let mut jobs = vec![job(1), job(2)];
        jobs[0].owner = 10;
        jobs[1].owner = 20;
        let mut p = policy();
        p.running.insert(10, 1);
        assert_eq!(ids(&jobs, &service_order(&jobs, &p)), [2, 1]);
    }

    #[test]
    fn deadlines_at_risk_jump_ahead_within_their_priority() {
        let p = policy();
        let mut jobs: Vec<Job> = (1..=4).map(job).collect();
        jobs[1].deadline_s = Some(p.now_s + 3600.0 + 7000.0); // slack < 2 h
        jobs[2].deadline_s = Some(p.now_s - 10.0); // already late
        jobs[3].deadline_s = Some(p.now_s + 3600.0 + 7300.0); // slack > 2 h: not at risk
        let mut high = job(9);
        high.priority = 1;
        jobs.push(high);
        assert_eq!(ids(&jobs, &service_order(&jobs, &p)), [9, 3, 2, 1, 4]);
    }

    #[test]
    fn float_keys_sort_like_total_cmp() {
        let xs = [f64::NEG_INFINITY, -1e9, -0.5, -0.0, 0.0, 1e-300, 2.0, f64::INFINITY];
        for w in xs.windows(2) {
            assert!(ordered(w[0]) < ordered(w[1]), "{w:?}");
        }
    }

    #[test]
    fn ties_go_to_the_older_job_then_the_lower_id() {
        let mut jobs = vec![job(3), job(2), job(1)];
        for (j, owner) in jobs.iter_mut().zip([1, 2, 3]) {
            j.owner = owner;
            j.submitted_s = 0.0;
        }
        jobs[0].submitted_s = -1.0;
        assert_eq!(ids(&jobs, &service_order(&jobs, &policy())), [3, 1, 2]);
    }
}
