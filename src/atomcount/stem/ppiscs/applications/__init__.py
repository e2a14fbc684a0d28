"""Applications of the PPISCS surrogate: sweeps, fits, Monte Carlo uncertainty, probability of error."""
