// Package explore is the machinery behind the contract suite's
// orchestration areas (storagetest.Run): what drives batchstate and
// applystate over a store under test and checks what they promise.
//
//   - The interleaving explorer ([Explore], [ExploreWith], [Replay]) runs
//     small hand-written scenarios of concurrent orchestrators under a
//     scheduler that picks which pending store call runs next, searching
//     every schedule within bounds on preemptions, faults and clock jumps
//     ([Exploration]) and then random ones, and checks batchstate's
//     invariants I–V and applystate's rules after every step.
//   - The model check ([CheckModel], [CheckModelWith], [ReplayModel])
//     generates seeded scenarios, explores each, checks every call's
//     result and every stored state against a specification written from
//     the documentation, and shrinks a violation before reporting it.
//   - The crash points ([CrashPointsWith]), the deterministic races, the
//     churn, concurrency, ownership and bad-input tests of the
//     Orchestration area ([RunOrchestration]).
//   - The checks they share ([CheckListed], [CheckIndexExact],
//     [CheckApplyProjected], [CheckApplyNotEarly]) and a fake [Clock].
//
// The model check and the explorer are one package: the model check runs
// its generated scenarios on the explorer's scheduler and the explorer's
// scenario table holds generated scenarios too. storagetest exports the
// entry points a backend author needs; the repository's own tests import
// this package for the rest.
package explore
