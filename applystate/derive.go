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

func (k *counts) derive() State {
	postCopy := k.of(CatchingUp) + k.of(Checksumming) + k.of(PostChecksum)
	switch {
	case k.n == 0:
		return Pending
	case k.has(Failed):
		return Failed
	case k.has(FailedRetryable):
		return FailedRetryable
	case k.has(Cancelled):
		return Cancelled
	case k.has(Stopped):
		return Stopped
	case k.has(Reverting):
		return Reverting
	case k.has(Reverted):
		return Reverted
	case k.has(Paused):
		return Paused
	case k.has(RunningDegraded):
		return RunningDegraded
	case k.of(Completed) == k.n:
		return Completed
	case k.has(Recovering):
		return Recovering
	case k.has(CuttingOver) && !k.has(Pending) && !k.has(Running) && postCopy == 0:
		return CuttingOver
	case k.has(WaitingForCutover) && k.of(WaitingForCutover)+k.of(Completed) == k.n:
		return WaitingForCutover
	case k.has(WaitingForDeploy) && k.of(WaitingForDeploy)+k.of(Completed) == k.n:
		return WaitingForDeploy
	case k.has(RevertWindow):
		return RevertWindow
	case k.has(Running):
		return Running
	case k.has(Pending) && (postCopy > 0 || k.has(CuttingOver)):
		return Running
	case k.has(CatchingUp):
		return CatchingUp
	case k.has(Checksumming):
		return Checksumming
	case k.has(PostChecksum):
		return PostChecksum
	}
	return Pending
}
