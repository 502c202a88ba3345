package train

import "math"

// LearningRate returns the rate of schedule s at position t, measured in
// epochs from the start of training (fractional inside an epoch: the k-th of
// n optimizer steps of epoch e is at t = e + k/n), for a run of epochs
// epochs with base rate lr:
//
//   - constant: lr;
//   - piecewise: Values[i] where i is the number of Boundaries <= t
//     (PaddleClas' Piecewise; lr is not used);
//   - cosine: MinLR + (lr-MinLR)*(1+cos(pi*u))/2 with u going from 0 at the
//     end of the warm-up to 1 at t = epochs (timm / PaddleClas CosineAnnealing).
//
// During a warm-up (t < WarmupEpochs) the rate goes linearly from WarmupLR
// at t = 0 to the schedule's value at t = WarmupEpochs.
func (s ScheduleConfig) LearningRate(t float64, epochs int, lr float64) float64 {
	if t < s.WarmupEpochs {
		end := s.after(s.WarmupEpochs, epochs, lr)
		return s.WarmupLR + (end-s.WarmupLR)*t/s.WarmupEpochs
	}
	return s.after(t, epochs, lr)
}

// after is the schedule without warm-up.
func (s ScheduleConfig) after(t float64, epochs int, lr float64) float64 {
	switch s.Name {
	case "piecewise":
		i := 0
		for i < len(s.Boundaries) && t >= s.Boundaries[i] {
			i++
		}
		return s.Values[i]
	case "cosine":
		span := float64(epochs) - s.WarmupEpochs
		u := 1.0
		if span > 0 {
			u = math.Min(1, math.Max(0, (t-s.WarmupEpochs)/span))
		}
		return s.MinLR + (lr-s.MinLR)*(1+math.Cos(math.Pi*u))/2
	default:
		return lr
	}
}
