"""The public API: the names ``from hessianlearn import *`` gives, by section.

Each name is exported by one subpackage (its ``__all__``); the package imports
it from there. To make a name public, add it to its section here (one line);
everything else stays reachable by its module path, e.g.
``hessianlearn.utilities.mpi.is_root`` or ``hessianlearn.data.mnist.one_hot``.
"""

PUBLIC = {
    "graph mode": (
        "tf", "keras",
    ),
    "problems": (
        "Problem", "RegressionProblem", "AutoencoderProblem", "ClassificationProblem",
        "VariationalAutoencoderProblem", "GenerativeAdversarialNetworkProblem",
        "H1RegressionProblem", "KerasModelProblem",
    ),
    "regularization": (
        "Regularization", "L2Regularization", "ParametersL2Regularization", "ParametersRegularization",
    ),
    "curvature operators": (
        "CurvatureOperator", "Hessian", "HessianWrapper", "GaussNewton", "GaussNewtonWrapper",
        "as_operator",
    ),
    "linear solvers": (
        "CGSolver", "ParametersCGSolver", "GMRESSolver", "ParametersGMRESSolver",
        "MINRESSolver", "ParametersMINRESSolver",
    ),
    "eigensolvers and range finders": (
        "randomized_eigensolver", "eigensolver_from_range", "low_rank_hessian",
        "block_range_finder", "noise_aware_adaptive_range_finder", "variance_based_nystrom",
        "randomized_double_pass_eigensolver",
        # the original's variance-based Nystrom helpers (its tests call them)
        "get_random_range_vectors", "compute_Theta", "update_Theta",
        "finish_computing_eigenvalue_decomposition", "compute_rayleigh_statistics",
    ),
    "globalization": (
        "ArmijoLineSearch", "ArmijoResult", "TrustRegion",
    ),
    "optimizers": (
        "Optimizer", "ParametersOptimizer", "NonFiniteError",
        "GradientDescent", "ParametersGradientDescent",
        "Adam", "ParametersAdam",
        "InexactNewtonCG", "ParametersInexactNewtonCG",
        "InexactNewtonGMRES", "ParametersInexactNewtonGMRES",
        "InexactNewtonMINRES", "ParametersInexactNewtonMINRES",
        "LowRankSaddleFreeNewton", "ParametersLowRankSaddleFreeNewton",
        # the methods second-order papers compare against
        "AdaHessian", "ParametersAdaHessian", "Sophia", "ParametersSophia",
        "LBFGS", "ParametersLBFGS", "HessianFree", "ParametersHessianFree", "KFAC", "ParametersKFAC",
    ),
    "curvature tools": (
        "hutchinson_trace", "hutchpp_trace", "hutchinson_diagonal", "hutchinson_weight_diagonal",
        "lanczos", "stochastic_lanczos_quadrature", "spectral_density",
    ),
    "preconditioners": (
        "Preconditioner", "IdentityPreconditioner",
    ),
    "data and loaders": (
        "Data", "load_mnist", "DictData", "BatchIterator", "StaticIterator",
        "load_fashion_mnist", "load_cifar",
    ),
    "settings and model": (
        "HessianlearnModelSettings", "HessianlearnModel", "KerasModelWrapper",
        "KerasModelWrapperSettings", "load_logger",
    ),
    "optimizer comparison": (
        "compare_optimizers", "plot_comparison", "comparison_table",
        "Workload", "workload_names", "build_workload",
        "mnist_autoencoder", "mnist_conv_autoencoder", "fashion_mnist_cnn", "cifar_transfer",
    ),
    "utilities": (
        "ParameterList", "finite_difference_check",
    ),
    "plotting": (
        "plot_training_curves", "plot_eigenvalues", "plot_image_grid", "plot_spectral_density",
        "plot_eigenvalues_over_training", "plot_layer_traces", "plot_trace_over_training",
    ),
}

PUBLIC_NAMES = [name for names in PUBLIC.values() for name in names]
