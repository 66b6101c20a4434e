//! The recent usage of each task running here: the last
//! [`KEPT_SAMPLES`] samples per (allocation, task), what
//! `GET /v1/client/stats/{alloc}` answers. Pure: the sampler hands in each
//! round of samples with the time it took them.
//!
//! Bounded by what runs on the node: a task's samples are forgotten with
//! its allocation's report (the worker ended) or once the allocation's job
//! no longer has the task; each task keeps at most [`KEPT_SAMPLES`].

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use drover_api::stats::{AgentAllocStats, TaskUsage, UsageSample, KEPT_SAMPLES};

use super::{AllocReport, Sample};

/// A container's CPU counter when last sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counter {
    container_id: String,
    cpu_nanos: u64,
    at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct TaskHistory {
    last: Option<Counter>,
    samples: VecDeque<UsageSample>,
}

/// Every task's recent samples.
#[derive(Debug, Default)]
pub struct History {
    tasks: BTreeMap<(String, String), TaskHistory>,
}

/// CPU used between two samples of the same container, in percent of one
/// core (pure): its counter's growth over the time between them. None
/// for a container's first sample, a new container (a restart), a counter
/// that went back, or no time passed.
pub fn cpu_percent(
    previous: Option<&(String, u64, DateTime<Utc>)>,
    container_id: &str,
    cpu_nanos: u64,
    at: DateTime<Utc>,
) -> Option<f64> {
    let (id, before, then) = previous?;
    if id != container_id || cpu_nanos < *before {
        return None;
    }
    let elapsed = (at - *then).num_nanoseconds().filter(|n| *n > 0)?;
    Some((cpu_nanos - before) as f64 / elapsed as f64 * 100.0)
}

impl History {
    /// Folds in one round of samples taken at `at`; `core_mhz` is the
    /// node's MHz per core (0: unknown, no MHz figure). Tasks whose
    /// allocation is no longer reported, or whose job no longer has them,
    /// are forgotten.
    pub fn record(
        &mut self,
        reports: &BTreeMap<String, AllocReport>,
        samples: &[Sample],
        at: DateTime<Utc>,
        core_mhz: f64,
    ) {
        self.tasks.retain(|(alloc, task), _| {
            reports
                .get(alloc)
                .is_some_and(|r| r.tasks.contains_key(task))
        });
        for sample in samples {
            let known = reports
                .get(&sample.alloc_id)
                .is_some_and(|r| r.tasks.contains_key(&sample.task));
            if !known {
                continue;
            }
            let history = self
                .tasks
                .entry((sample.alloc_id.clone(), sample.task.clone()))
                .or_default();
            let previous = history
                .last
                .as_ref()
                .map(|c| (c.container_id.clone(), c.cpu_nanos, c.at));
            let percent = cpu_percent(
                previous.as_ref(),
                &sample.container_id,
                sample.cpu_nanos,
                at,
            );
            history.last = Some(Counter {
                container_id: sample.container_id.clone(),
                cpu_nanos: sample.cpu_nanos,
                at,
            });
            history.samples.push_back(UsageSample {
                time: at,
                cpu_percent: percent,
                cpu_mhz: percent
                    .filter(|_| core_mhz > 0.0)
                    .map(|p| p * core_mhz / 100.0),
                memory_bytes: sample.memory_bytes,
            });
            while history.samples.len() > KEPT_SAMPLES {
                history.samples.pop_front();
            }
        }
    }

    /// What the agent answers for `alloc_id`: every task its report
    /// names, with its limits and samples (none yet: an empty list);
    /// `None` when this node runs no such allocation.
    pub fn of(
        &self,
        alloc_id: &str,
        report: Option<&AllocReport>,
        interval_seconds: u64,
    ) -> Option<AgentAllocStats> {
        let report = report?;
        let tasks = report
            .tasks
            .iter()
            .map(|(task, limits)| {
                let samples = self
                    .tasks
                    .get(&(alloc_id.to_string(), task.clone()))
                    .map(|h| h.samples.iter().cloned().collect())
                    .unwrap_or_default();
                let usage = TaskUsage {
                    cpu_reserved_mhz: limits.cpu_mhz,
                    memory_limit_bytes: limits.memory_bytes,
                    samples,
                };
                (task.clone(), usage)
            })
            .collect();
        Some(AgentAllocStats {
            alloc_id: alloc_id.to_string(),
            interval_seconds,
            tasks,
        })
    }

    /// How many samples are kept in all (for tests of the bound).
    pub fn len(&self) -> usize {
        self.tasks.values().map(|h| h.samples.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::super::TaskLimits;
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().expect("time")
    }

    fn report(tasks: &[&str]) -> AllocReport {
        AllocReport {
            tasks: tasks
                .iter()
                .map(|t| {
                    let limits = TaskLimits {
                        cpu_mhz: 500,
                        memory_bytes: 256 << 20,
                    };
                    (t.to_string(), limits)
                })
                .collect(),
            ..AllocReport::default()
        }
    }

    fn sample(alloc: &str, task: &str, container: &str, cpu_nanos: u64, memory: u64) -> Sample {
        Sample {
            alloc_id: alloc.into(),
            task: task.into(),
            container_id: container.into(),
            cpu_nanos,
            memory_bytes: memory,
        }
    }

    #[test]
    fn the_cpu_rate_is_the_counters_growth_over_the_time_between() {
        let before = ("c1".to_string(), 1_000_000_000, at(100));
        // Half a second of CPU over 10 s: 5 % of a core.
        assert_eq!(
            cpu_percent(Some(&before), "c1", 1_500_000_000, at(110)),
            Some(5.0)
        );
        // Two cores busy: 200 %.
        assert_eq!(
            cpu_percent(Some(&before), "c1", 21_000_000_000, at(110)),
            Some(200.0)
        );
        assert_eq!(cpu_percent(None, "c1", 5, at(110)), None);
        assert_eq!(
            cpu_percent(Some(&before), "c2", 2_000_000_000, at(110)),
            None
        );
        assert_eq!(cpu_percent(Some(&before), "c1", 5, at(110)), None);
        assert_eq!(
            cpu_percent(Some(&before), "c1", 2_000_000_000, at(100)),
            None
        );
    }

    #[test]
    fn samples_are_bounded_and_forgotten_with_their_allocation() {
        let mut history = History::default();
        let mut reports = BTreeMap::new();
        reports.insert("a".to_string(), report(&["web"]));
        reports.insert("b".to_string(), report(&["web"]));
        for round in 0..(KEPT_SAMPLES as i64 + 15) {
            let nanos = round as u64 * 1_000_000_000;
            history.record(
                &reports,
                &[
                    sample("a", "web", "c1", nanos, 100),
                    sample("b", "web", "c2", nanos, 200),
                    // Not reported (a container whose worker is gone).
                    sample("z", "web", "c9", nanos, 1),
                ],
                at(round * 10),
                2000.0,
            );
        }
        assert_eq!(history.len(), 2 * KEPT_SAMPLES);
        let a = history.of("a", reports.get("a"), 10).expect("a runs here");
        let web = &a.tasks["web"];
        assert_eq!(web.samples.len(), KEPT_SAMPLES);
        assert_eq!(web.samples[0].time, at(15 * 10), "the oldest went first");
        assert_eq!(web.cpu_reserved_mhz, 500);
        // 1 s of CPU every 10 s: 10 % of a core, 200 MHz of a 2 GHz core.
        assert_eq!(web.samples[1].cpu_percent, Some(10.0));
        assert_eq!(web.samples[1].cpu_mhz, Some(200.0));
        assert!(history.of("z", None, 10).is_none());

        // The allocation's worker ended: its samples go at the next round.
        reports.remove("b");
        history.record(&reports, &[], at(10_000), 2000.0);
        assert_eq!(history.len(), KEPT_SAMPLES);
        // The job no longer has the task: its samples go too.
        reports.insert("a".to_string(), report(&["other"]));
        history.record(&reports, &[], at(10_010), 2000.0);
        assert!(history.is_empty());
    }

    #[test]
    fn a_new_container_starts_without_a_rate_and_tasks_without_samples_are_listed() {
        let mut history = History::default();
        let mut reports = BTreeMap::new();
        reports.insert("a".to_string(), report(&["web", "idle"]));
        history.record(&reports, &[sample("a", "web", "c1", 0, 1)], at(0), 0.0);
        history.record(
            &reports,
            &[sample("a", "web", "c1", 1_000_000_000, 1)],
            at(10),
            0.0,
        );
        // Restarted: another container, its counter from 0.
        history.record(&reports, &[sample("a", "web", "c2", 10, 1)], at(20), 0.0);
        let stats = history.of("a", reports.get("a"), 10).expect("runs");
        let rates: Vec<Option<f64>> = stats.tasks["web"]
            .samples
            .iter()
            .map(|s| s.cpu_percent)
            .collect();
        assert_eq!(rates, [None, Some(10.0), None]);
        // The node's MHz unknown: no MHz figure.
        assert_eq!(stats.tasks["web"].samples[1].cpu_mhz, None);
        assert!(stats.tasks["idle"].samples.is_empty());
    }
}
