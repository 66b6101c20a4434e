use super::*;

fn view(phase: Phase, sidecar: bool, state: TaskRunState) -> TaskView {
    TaskView {
        phase,
        sidecar,
        leader: false,
        state,
        failed: false,
        started: state != TaskRunState::Pending,
    }
}

fn failed(mut v: TaskView) -> TaskView {
    v.failed = true;
    v
}

const P: TaskRunState = TaskRunState::Pending;
const R: TaskRunState = TaskRunState::Running;
const D: TaskRunState = TaskRunState::Dead;

#[test]
fn phase_follows_the_lifecycle_block() {
    use drover_api_types::task::Lifecycle;
    let mut task = Task::default();
    assert_eq!(Phase::of(&task), Phase::Main);
    for (hook, phase) in [
        ("prestart", Phase::Prestart),
        ("poststart", Phase::Poststart),
        ("poststop", Phase::Poststop),
    ] {
        task.lifecycle = Some(Lifecycle {
            hook: hook.into(),
            sidecar: false,
        });
        assert_eq!(Phase::of(&task), phase);
    }
}

#[test]
fn a_group_without_hooks_runs_its_tasks_at_once() {
    let tasks = [view(Phase::Main, false, P), view(Phase::Main, false, R)];
    assert_eq!(plan(&tasks, false), [Step::Run, Step::Run]);
}

#[test]
fn main_tasks_wait_for_prestart_to_complete_and_sidecars_to_run() {
    let main = view(Phase::Main, false, P);
    let cases = [
        // (init, sidecar) → main's step
        ((P, P), Step::Wait),
        ((R, R), Step::Wait),
        ((D, P), Step::Wait),
        ((D, R), Step::Run),
    ];
    for ((init, sidecar), want) in cases {
        let tasks = [
            view(Phase::Prestart, false, init),
            view(Phase::Prestart, true, sidecar),
            main.clone(),
        ];
        let steps = plan(&tasks, false);
        assert_eq!(steps[2], want, "init {init}, sidecar {sidecar}");
        // The completed init task is left as it is; the others run.
        let init_step = if init == D { Step::Stop } else { Step::Run };
        assert_eq!(steps[..2], [init_step, Step::Run]);
    }
}

#[test]
fn a_failed_prestart_task_winds_the_allocation_down() {
    let tasks = [
        failed(view(Phase::Prestart, false, D)),
        view(Phase::Prestart, true, R),
        view(Phase::Main, false, P),
        view(Phase::Poststop, false, P),
    ];
    // Nothing main ever ran, so there is nothing for poststop to clean up.
    assert_eq!(
        plan(&tasks, false),
        [Step::Stop, Step::Stop, Step::Stop, Step::Wait]
    );
    let all_dead = [
        failed(view(Phase::Prestart, false, D)),
        view(Phase::Prestart, true, D),
        view(Phase::Main, false, P),
        view(Phase::Poststop, false, P),
    ];
    let mut all_dead = all_dead.to_vec();
    all_dead[2].state = D;
    all_dead[2].started = false;
    assert_eq!(plan(&all_dead, false)[3], Step::Skip);
}

#[test]
fn poststart_waits_for_every_main_task_to_run() {
    let tasks = [
        view(Phase::Main, false, R),
        view(Phase::Main, false, P),
        view(Phase::Poststart, false, P),
    ];
    assert_eq!(plan(&tasks, false)[2], Step::Wait);
    let tasks = [
        view(Phase::Main, false, R),
        view(Phase::Main, false, R),
        view(Phase::Poststart, false, P),
        view(Phase::Poststart, true, P),
    ];
    assert_eq!(plan(&tasks, false)[2..], [Step::Run, Step::Run]);
}

#[test]
fn stopping_stops_main_tasks_before_sidecars_then_runs_poststop() {
    let mut tasks = vec![
        view(Phase::Prestart, true, R),
        view(Phase::Main, false, R),
        view(Phase::Poststart, true, R),
        view(Phase::Poststop, false, P),
    ];
    assert_eq!(
        plan(&tasks, true),
        [Step::Wait, Step::Stop, Step::Wait, Step::Wait]
    );
    tasks[1].state = D;
    assert_eq!(
        plan(&tasks, true),
        [Step::Stop, Step::Stop, Step::Stop, Step::Wait]
    );
    tasks[0].state = D;
    tasks[2].state = D;
    assert_eq!(plan(&tasks, true)[3], Step::Run);
    tasks[3].state = D;
    assert_eq!(plan(&tasks, true)[3], Step::Stop, "poststop runs once");
}

#[test]
fn finished_main_tasks_stop_sidecars_and_start_poststop() {
    let tasks = [
        view(Phase::Prestart, true, R),
        view(Phase::Main, false, D),
        view(Phase::Poststop, false, P),
    ];
    assert_eq!(plan(&tasks, false), [Step::Stop, Step::Stop, Step::Wait]);
}

#[test]
fn a_dead_leader_stops_the_other_tasks() {
    let mut leader = view(Phase::Main, false, D);
    leader.leader = true;
    let tasks = [leader, view(Phase::Main, false, R)];
    assert_eq!(plan(&tasks, false), [Step::Stop, Step::Stop]);
}

#[test]
fn a_stopped_allocation_that_never_ran_skips_poststop() {
    let tasks = [view(Phase::Main, false, D), view(Phase::Poststop, false, P)];
    let mut tasks = tasks.to_vec();
    tasks[0].started = false;
    assert_eq!(plan(&tasks, true), [Step::Stop, Step::Skip]);
}
