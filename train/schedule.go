package train

// schedule gives the learning rate at an optimizer step.
type schedule struct {
	cfg Config
}

func newSchedule(cfg Config) *schedule { return &schedule{cfg: cfg} }

// at returns the learning rate for the given global step (0-based) in epoch.
func (s *schedule) at(step, epoch int) float64 {
	return s.cfg.Optim.LR
}
