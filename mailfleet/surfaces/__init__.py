"""API surfaces: sub-applications mounted from one recipe (`recipe`); the native one first."""
