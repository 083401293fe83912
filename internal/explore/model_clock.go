package explore

import (
	"math/rand/v2"
	"time"
)

// Clocks that stand still. applystate's documentation promises that every
// apply write of a Projector stamps a later UpdatedAt than its previous
// one (a microsecond later when the clock has not moved), which is how a
// Projector tells its own writes apart after a lost response. The
// explorer's clock moves a millisecond at every reading, so a write
// stamped with the plain clock looks the same as a stamped one; a clock
// that stands still shows the difference.

// genStill draws, after everything else of g, the actors whose clock
// stands still between the schedule's clock jumps: in one scenario of
// four, each actor but a CreatePlan with odds of one half.
func genStill(g *genApply, rng *rand.Rand) *genApply {
	if rng.IntN(4) != 0 {
		return g
	}
	for i := range g.actors {
		if g.actors[i].kind != "plan" && rng.IntN(2) == 0 {
			g.actors[i].still = true
		}
	}
	return g
}

// checkStamps reports an actor whose apply writes (each actor has its own
// Projector) do not stamp strictly increasing UpdatedAt values.
func (s *exSchedule) checkStamps() {
	for _, a := range s.actors {
		a.store.mu.Lock()
		stamps := append([]time.Time(nil), a.store.stamps...)
		a.store.mu.Unlock()
		for i := 1; i < len(stamps); i++ {
			if !stamps[i].After(stamps[i-1]) {
				s.violation("stamp: actor %s's apply write %d is stamped %s, not later than its write %d (%s): a Projector's writes are told apart by their UpdatedAt",
					a.letter, i+1, stamps[i].Format(time.RFC3339Nano), i, stamps[i-1].Format(time.RFC3339Nano))
				break
			}
		}
	}
}
