package io.mlserve.server.repository;

/** Lifecycle of a model (or version) as RepositoryIndex reports it. */
public enum ModelState { LOADING, READY, UNAVAILABLE, UNLOADING }
