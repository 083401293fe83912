package applystate

// counts is a histogram of states over the vocabulary.
type counts struct {
	n int
	c [numStates]int
}

func (k *counts) add(s State) {
	k.n++
	if i := index(s); i >= 0 {
		k.c[i]++
	} else {
		k.c[0]++ // unknown counts as pending
	}
}

func (k *counts) has(s State) bool { return k.c[index(s)] > 0 }
func (k *counts) of(s State) int   { return k.c[index(s)] }

// Derive returns one operation's state from the states of its tasks. Inputs
// are normalized (see [Normalize]). The first matching rule wins:
//
//	 0  no tasks                                   → pending
//	 1  any failed                                 → failed
//	 2  any failed_retryable                       → failed_retryable
//	 3  any cancelled                              → cancelled
//	 4  any stopped                                → stopped
//	 5  any reverting                              → reverting
//	 6  any reverted                               → reverted
//	6a  any paused                                 → paused
//	6b  any running_degraded                       → running_degraded
//	 7  all completed                              → completed
//	 8  any recovering                             → recovering
//	 9  any cutting_over, none pending, running or
//	    post-copy (catching_up, checksumming,
//	    post_checksum)                             → cutting_over
//	10  all waiting_for_cutover or completed,
//	    at least one waiting_for_cutover           → waiting_for_cutover
//	11  the same for waiting_for_deploy            → waiting_for_deploy
//	12  any revert_window                          → revert_window
//	13  any running                                → running
//	14  any pending and any post-copy or
//	    cutting_over                               → running
//	15  any catching_up                            → catching_up
//	16  any checksumming                           → checksumming
//	17  any post_checksum                          → post_checksum
//	18                                             → pending
//
// Every state is a fixed point (Derive(s) == s), and appending the result
// changes nothing: Derive(append(xs, Derive(xs)...)...) == Derive(xs).
// Derive does not allocate.
func Derive(states ...State) State {
	var k counts
	for _, s := range states {
		if index(s) < 0 { // fast path: already in the vocabulary
			s = Normalize(string(s))
		}
		k.add(s)
	}
	return k.derive()
}

// dominant are the states of rules 1 to 6b, in their order: the first any
// task holds is the operation's.
var dominant = [...]State{Failed, FailedRetryable, Cancelled, Stopped, Reverting, Reverted, Paused, RunningDegraded}

// postCopy are the post-copy phases of rules 15 to 17, in their order.
var postCopy = [...]State{CatchingUp, Checksumming, PostChecksum}

func (k *counts) derive() State {
	if k.n == 0 {
		return Pending
	}
	if s, ok := k.firstHeld(dominant[:]); ok {
		return s
	}
	copying := k.held(postCopy[:])
	switch {
	case k.of(Completed) == k.n:
		return Completed
	case k.has(Recovering):
		return Recovering
	case k.has(CuttingOver) && !k.has(Pending) && !k.has(Running) && !copying:
		return CuttingOver
	case k.onlyWithCompleted(WaitingForCutover):
		return WaitingForCutover
	case k.onlyWithCompleted(WaitingForDeploy):
		return WaitingForDeploy
	case k.has(RevertWindow):
		return RevertWindow
	case k.has(Running), k.has(Pending) && (copying || k.has(CuttingOver)):
		return Running
	}
	if s, ok := k.firstHeld(postCopy[:]); ok {
		return s
	}
	return Pending
}

// firstHeld returns the first of states that a task holds.
func (k *counts) firstHeld(states []State) (State, bool) {
	for _, s := range states {
		if k.has(s) {
			return s, true
		}
	}
	return "", false
}

// held reports whether a task holds any of states.
func (k *counts) held(states []State) bool {
	_, ok := k.firstHeld(states)
	return ok
}

// onlyWithCompleted reports whether a task holds s and every other task is
// completed.
func (k *counts) onlyWithCompleted(s State) bool {
	return k.has(s) && k.of(s)+k.of(Completed) == k.n
}
