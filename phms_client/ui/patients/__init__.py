"""Finding and registering patients: the search, its table model, the patient form
and the possible-duplicate warning."""
