"""Data parallelism on 8 fake CPU devices: pmap, sharded jit and one device
compute the same step.

JAX fixes the number of CPU devices when it starts, so the checks below run
in a child pytest with ``XLA_FLAGS=--xla_force_host_platform_device_count=8``;
the parent collects only the test that starts it.
"""

import os
import subprocess
import sys

import pytest

FAKE_DEVICES = 8
_INNER = os.environ.get("JAXGAN_PARALLEL_CHILD") == "1"


def with_devices(devices: int) -> str:
    """``XLA_FLAGS`` with ``devices`` fake CPU devices added to the suite's own flags."""
    return f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"


def run_child_pytest(path: str, devices: int, timeout: int = 1100) -> None:
    """Runs the pytest file ``path`` in a child with ``devices`` fake CPU devices
    (in one process, ``-n 0``: the suite's own workers already share the cores; 7 minutes
    on 2 busy cores, measured with the session's shared compilation cache, from 11.5)."""
    env = dict(os.environ, JAXGAN_PARALLEL_CHILD="1", JAX_PLATFORMS="cpu",
               XLA_FLAGS=with_devices(devices))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                             "-n", "0", path], env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


if not _INNER:

    def test_on_eight_fake_cpu_devices():
        run_child_pytest(__file__, FAKE_DEVICES)

else:
    import chex
    import jax
    import jax.numpy as jnp
    import numpy as np

    import jaxgan
    from jaxgan import losses, parallel, penalties

    def dcgan_recipe(**d_kwargs):
        return jaxgan.GANRecipe(
            generator=jaxgan.DCGANGenerator(resolution=28, channels=1, width=4),
            discriminator=jaxgan.DCGANDiscriminator(resolution=28, width=4, **d_kwargs),
            latent_dim=8)

    def wgan_gp_recipe():
        return jaxgan.GANRecipe(
            generator=jaxgan.DCGANGenerator(resolution=28, channels=1, width=4),
            discriminator=jaxgan.DCGANDiscriminator(resolution=28, width=4,
                                                    normalization="layer"),
            latent_dim=8, n_disc=3, d_loss=losses.wasserstein_critic_loss,
            g_loss=losses.wasserstein_generator_loss, penalty=penalties.gradient_penalty,
            penalty_weight=10.0)

    def pix2pix_recipe():
        """Translation: the U-Net's dropout (drawn per device) is off, so that
        the placements compute the same function; its BatchNorm is synchronised."""
        from jaxgan.models.translation import PatchDiscriminator, UNetGenerator

        return jaxgan.GANRecipe(
            generator=UNetGenerator(channels=1, width=4, depth=2, dropout=0.0),
            discriminator=PatchDiscriminator(width=4, layers=2), latent_dim=0,
            translation=True, reconstruction_weight=100.0)

    def three_ways(recipe, state, batch, single=None):
        """``(one device, pmap, sharded jit)`` results of one step on ``batch``
        (``single``: the one-device result, if it was computed already)."""
        if single is None:
            single = jax.jit(recipe.make_train_step())(state, batch)

        pmapped = jax.pmap(recipe.make_train_step(parallel.AXIS), parallel.AXIS)
        local = parallel.put_per_device(parallel.split_per_device(batch, FAKE_DEVICES, axis=1))
        by_pmap = parallel.first_replica(pmapped(parallel.replicate(state), local), "pmap")

        mesh = parallel.data_mesh()
        sharded = jax.jit(recipe.make_train_step(),
                          in_shardings=(parallel.replicated(mesh), parallel.batch_sharding(mesh)),
                          out_shardings=parallel.replicated(mesh))
        by_jit = sharded(parallel.put_global(state, parallel.replicated(mesh)),
                         parallel.put_global(batch, parallel.batch_sharding(mesh)))
        # The batch really was spread: each device holds 2 of the 16 rows.
        first = jax.tree.leaves(batch)[0]
        shard_rows = {s.data.shape[1] for s in parallel.put_global(
            first, parallel.batch_sharding(mesh)).addressable_shards}
        assert shard_rows == {first.shape[1] // FAKE_DEVICES}
        return single, by_pmap, parallel.first_replica(by_jit, "jit")

    def assert_same(a, b):
        chex.assert_trees_all_close(a, b, rtol=2e-4, atol=2e-6)

    def test_eight_devices_are_there():
        assert jax.device_count() == FAKE_DEVICES

    @pytest.fixture(scope="module")
    def dcgan_step():
        """The DCGAN's state, batch and one-device step, shared by the two tests
        below (the same program, compiled once)."""
        recipe = dcgan_recipe()
        state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (28, 28, 1))
        batch = jax.random.uniform(jax.random.PRNGKey(1), (recipe.n_disc, 16, 28, 28, 1),
                                   minval=-1, maxval=1)
        return recipe, state, batch, jax.jit(jaxgan.make_train_step(recipe))(state, batch)

    @pytest.mark.parametrize("make_recipe", [dcgan_recipe, wgan_gp_recipe, pix2pix_recipe],
                             ids=["dcgan", "wgan_gp", "pix2pix"])
    def test_pmap_jit_and_one_device_give_the_same_step(make_recipe, request):
        if make_recipe is dcgan_recipe:
            recipe, state, batch, single = request.getfixturevalue("dcgan_step")
        else:
            recipe = make_recipe()
            state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (28, 28, 1))
            batch = jax.random.uniform(jax.random.PRNGKey(1), (recipe.n_disc, 16, 28, 28, 1),
                                       minval=-1, maxval=1)
            if recipe.translation:  # (inputs, targets): inputs with the lower half blanked
                batch = (batch.at[:, :, 14:].set(-1.0), batch)
            single = None
        (single, m1), (by_pmap, m2), (by_jit, m3) = three_ways(recipe, state, batch, single)
        for other, metrics in ((by_pmap, m2), (by_jit, m3)):
            assert_same(other.g_params, single.g_params)
            assert_same(other.d_params, single.d_params)
            assert_same(other.g_batch_stats, single.g_batch_stats)
            assert_same(other.d_batch_stats, single.d_batch_stats)
            assert_same((other.g_opt_state, other.d_opt_state),
                        (single.g_opt_state, single.d_opt_state))
            for name in m1:
                np.testing.assert_allclose(metrics[name], m1[name], rtol=2e-4, atol=1e-5,
                                           err_msg=name)
        if recipe.penalty is None:  # the DCGAN's BatchNorm moved its statistics
            stats = jax.tree.leaves(single.d_batch_stats)
            assert not all(np.allclose(a, b) for a, b in
                           zip(stats, jax.tree.leaves(state.d_batch_stats), strict=True))

    def test_the_cyclegan_step_is_the_same_under_pmap_jit_and_one_device():
        """Four networks with BatchNorm, and a history of 4 slots that takes in
        16 fakes a step: it fills within the global batch and swaps after, so
        every device must take in the whole batch in its order to agree."""
        from jaxgan.cyclegan import CycleGANRecipe
        from jaxgan.models.translation import PatchDiscriminator, UNetGenerator

        recipe = CycleGANRecipe(
            UNetGenerator(channels=1, width=4, depth=2, dropout=0.0),
            UNetGenerator(channels=1, width=4, depth=2, dropout=0.0),
            PatchDiscriminator(width=4, layers=1), PatchDiscriminator(width=4, layers=1),
            history_size=4)
        state = recipe.create_state(jax.random.PRNGKey(0), (16, 16, 1))
        batch = tuple(jax.random.uniform(jax.random.PRNGKey(i), (1, 16, 16, 16, 1), minval=-1,
                                         maxval=1) for i in (1, 2))
        (single, m1), (by_pmap, m2), (by_jit, m3) = three_ways(recipe, state, batch)
        assert int(single.history_filled) == 4
        for other, metrics in ((by_pmap, m2), (by_jit, m3)):
            assert_same(other, single)
            for name in m1:
                np.testing.assert_allclose(metrics[name], m1[name], rtol=2e-4, atol=1e-5,
                                           err_msg=name)

    def test_batch_norm_is_synchronised_across_devices(dcgan_step):
        """Without synchronised BatchNorm (a module the step cannot switch over)
        each device normalises by its own 2 rows, and the step differs: the
        check above can tell the difference."""
        recipe, state, batch, (single, _) = dcgan_step
        unsynced = jax.pmap(jaxgan.make_train_step(recipe, None), parallel.AXIS)
        local = parallel.put_per_device(parallel.split_per_device(batch, FAKE_DEVICES, axis=1))
        per_device, _ = unsynced(parallel.replicate(state), local)
        first = parallel.first_replica(per_device, "pmap")
        assert not np.allclose(first.d_params["down_1"]["kernel"],
                               single.d_params["down_1"]["kernel"], rtol=1e-4, atol=1e-6)

    def test_sampling_multi_step_over_seeds_matches_under_pmap_and_jit():
        """The fit loop's composition: a conditional model, data drawn on the
        device, 2 steps per call, 2 seeds, each way spread over 8 devices.

        On small MLPs (the generator's BatchNorm synchronised across devices,
        a projection discriminator): what is composed here is the sampling,
        the steps and the seeds around any step. The DCGAN's own step is
        compared across placements above, and the fit loop's DCGAN program
        (conditional, projection, several steps a call) in
        test_fit_loop_on_eight_devices_trains_the_one_device_run; three
        compiles of a vmapped DCGAN here cost a minute and a half of the child."""
        source = jaxgan.ring()  # labelled by mode, its centers placed on the device
        recipe = jaxgan.GANRecipe(
            generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8,), num_classes=8),
            discriminator=jaxgan.MLPDiscriminator(features=(8,), num_classes=8,
                                                  conditioning="projection"),
            latent_dim=4, num_classes=8)
        states = jaxgan.create_states(recipe, [0, 1], (2,))
        data = source.device_data()

        def program(**kwargs):
            axis = kwargs.get("axis_name")
            step = jaxgan.make_sampling_step(jaxgan.make_train_step(recipe, axis),
                                             source.sample_labelled, 16, 1, **kwargs)
            return jax.vmap(jaxgan.make_multi_step(step, 2), in_axes=(0, None))

        single, m1 = jax.jit(program())(states, data)
        by_pmap, m2 = jax.pmap(program(axis_name=parallel.AXIS), parallel.AXIS)(
            parallel.replicate(states), parallel.replicate(data))
        mesh = parallel.data_mesh()
        rep = parallel.replicated(mesh)
        by_jit, m3 = jax.jit(program(batch_sharding=parallel.batch_sharding(mesh)),
                             in_shardings=(rep, rep), out_shardings=rep)(
            parallel.put_global(states, rep), parallel.put_global(data, rep))
        for other, metrics in ((parallel.first_replica(by_pmap, "pmap"),
                                parallel.first_replica(m2, "pmap")),
                               (parallel.first_replica(by_jit, "jit"), m3)):
            assert_same(other.g_params, single.g_params)
            assert_same(other.d_params, single.d_params)
            assert_same(other.g_batch_stats, single.g_batch_stats)
            np.testing.assert_allclose(metrics["d_loss"], m1["d_loss"], rtol=2e-4)
        # The generator's BatchNorm moved its statistics (so they were compared).
        assert not all(np.allclose(a, b) for a, b in zip(
            jax.tree.leaves(single.g_batch_stats), jax.tree.leaves(states.g_batch_stats),
            strict=True))
        # The two seeds trained differently (their own initialisation and noise).
        assert not np.allclose(single.g_params["Dense_0"]["kernel"][0],
                               single.g_params["Dense_0"]["kernel"][1])

    def test_a_batch_that_does_not_split_is_a_clear_error():
        with pytest.raises(ValueError, match=r"batch_size=12 does not split evenly over 8 "
                                             r"devices; use a multiple of 8 \(e.g. 16\)"):
            parallel.check_batch_size(12, FAKE_DEVICES)
        parallel.check_batch_size(16, FAKE_DEVICES)

    def test_layout_helpers_put_rows_where_jit_would():
        x = np.arange(2 * 16 * 3).reshape(2, 16, 3)
        split = parallel.split_per_device(x, FAKE_DEVICES, axis=1)
        assert split.shape == (8, 2, 2, 3)
        np.testing.assert_array_equal(split[3], x[:, 6:8])
        mesh = parallel.data_mesh()
        placed = parallel.put_global(x, parallel.batch_sharding(mesh))
        for shard in placed.addressable_shards:
            np.testing.assert_array_equal(shard.data, split[jax.devices().index(shard.device)])
        np.testing.assert_array_equal(parallel.local_slices(split), split)  # one process
        replicated = parallel.replicate({"w": jnp.arange(3.0)})
        assert replicated["w"].shape == (8, 3)
        np.testing.assert_array_equal(parallel.first_replica(replicated, "pmap")["w"],
                                      [0.0, 1.0, 2.0])

    # ------------------------------------------------------------------
    # The fit loop: config.parallel, resuming elsewhere, several processes
    # ------------------------------------------------------------------

    import json
    import signal
    import socket
    import time

    from jaxgan import checkpoint, loop, train
    from jaxgan import config as config_lib

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    SCRIPT = os.path.join(ROOT, "experiments", "train.py")
    DIGITS_SMOKE = os.path.join(ROOT, "experiments", "configs", "digits_smoke.py")
    import importlib

    from jaxgan import configs

    # Every shipped config, found on disk so that a new one is covered too.
    CONFIGS = {name: importlib.import_module(f"jaxgan.configs.{name}")
               for name in configs.names()}
    digits_smoke = CONFIGS["digits_smoke"]

    # The hardest path through the loop: streamed from the host, conditional,
    # two discriminator updates per step (so each device takes its rows of
    # both updates' batches), a spectrally normalised projection
    # discriminator (its power-iteration vectors are state that every device
    # must keep equal), synchronised BatchNorm in the generator. Constant
    # rates, so that a run may be extended.
    HARD = ("--config.data_placement=host", "--config.conditioning=projection",
            "--config.d_normalization=spectral", "--config.n_disc=2",
            "--config.classifier_steps=0", "--config.lr_schedule=constant")

    def hard_config(**fields):
        config = digits_smoke.get_config()
        config.data_placement, config.conditioning, config.n_disc = "host", "projection", 2
        config.d_normalization = "spectral"
        config.classifier_steps, config.lr_schedule = 0, "constant"
        for name, value in fields.items():
            config[name] = value
        return config

    def final_state(workdir):
        """``(step, saved config, state)`` of the newest checkpoint in ``workdir``."""
        run = train.restore_run(workdir)
        checkpointer = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), 3)
        try:
            return run.step, checkpointer.restore_config(run.step), run.states
        finally:
            checkpointer.close()

    def run_script(*args, devices, extra_env=None, background=False):
        env = dict(os.environ, XLA_FLAGS=with_devices(devices),
                   **(extra_env or {}))
        command = [sys.executable, SCRIPT, "--config", DIGITS_SMOKE, *args]
        if background:
            return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=600)

    @pytest.fixture(scope="module")
    def one_device_run(tmp_path_factory):
        workdir = str(tmp_path_factory.mktemp("none"))
        train.train_and_evaluate(hard_config(parallel="none"), workdir)
        return workdir

    @pytest.mark.parametrize("mode", ["pmap", "jit"])
    def test_fit_loop_on_eight_devices_trains_the_one_device_run(mode, one_device_run, tmp_path):
        train.train_and_evaluate(hard_config(parallel=mode), str(tmp_path))
        step, saved, state = final_state(str(tmp_path))
        expected_step, _, expected = final_state(one_device_run)
        assert step == expected_step == 8
        assert_same(state, expected)
        assert saved[loop.DEVICES_KEY] == FAKE_DEVICES
        # The logged losses are the global batch's, as on one device.
        for got, want in zip(read_jsonl(tmp_path / "metrics.jsonl"),
                             read_jsonl(os.path.join(one_device_run, "metrics.jsonl")),
                             strict=True):
            for name in ("d_loss", "g_loss", "d_real_logit"):
                assert got[name] == pytest.approx(want[name], rel=1e-4), name

    def test_resumes_on_four_devices_what_eight_started(one_device_run, tmp_path):
        """8 devices with pmap for 4 steps, then a process with 4 devices and
        sharded jit for the other 4: the same run as one device for 8."""
        workdir = str(tmp_path)
        train.train_and_evaluate(hard_config(parallel="pmap", num_steps=4), workdir)
        resumed = run_script("--workdir", workdir, "--config.parallel=jit", *HARD, devices=4)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "resuming a run saved on 8 device(s) on 4" in resumed.stdout + resumed.stderr
        step, saved, state = final_state(workdir)
        assert step == 8 and saved[loop.DEVICES_KEY] == 4
        assert_same(state, final_state(one_device_run)[2])

    def test_a_batch_that_does_not_split_exits_2_before_writing(tmp_path):
        workdir = str(tmp_path / "run")
        result = run_script("--workdir", workdir, "--config.parallel=jit",
                            "--config.batch_size=12", devices=FAKE_DEVICES)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert lines[-1] == ("error: parallel='jit': batch_size=12 does not split evenly over 8 "
                             "devices; use a multiple of 8 (e.g. 16)"), lines
        assert not os.path.exists(os.path.join(workdir, "config.json"))

    @pytest.mark.parametrize("name", sorted(CONFIGS))
    @pytest.mark.parametrize("mode", ["pmap", "jit"])
    def test_every_experiment_config_is_valid_on_eight_devices(name, mode):
        assert len(CONFIGS) >= 14
        config = CONFIGS[name].get_config()
        config.parallel = mode
        config_lib.validate_config(config)

    @pytest.mark.slow
    # Each family once, the two placements taking turns: the placements are
    # compared step for step on the hard config above, so a second compile of
    # every family would test nothing new (and cost a minute of the suite).
    @pytest.mark.parametrize("name, mode", [("ring8", "pmap"), ("digits", "jit"),
                                            ("wgan_gp_digits", "pmap"), ("cgan_digits", "jit")])
    def test_every_bundled_family_trains_on_eight_devices(name, mode, tmp_path):
        """Each family's config with data that ships (shrunk to two steps)."""
        config = CONFIGS[name].get_config()
        config.parallel, config.batch_size = mode, 16
        config.num_steps = config.log_every = config.eval_every = 2
        config.checkpoint_every = config.steps_per_dispatch = 2
        config.num_eval_samples = config.num_final_samples = 20
        config.latent_dim = 8
        if config.model == "mlp":
            config.g_features = config.d_features = (8,)
        else:
            config.image_size, config.g_width, config.d_width = 28, 4, 4
            config.g_native_size = 0  # 8 does not divide 28
            config.classifier_steps = 0
        result = train.train_and_evaluate(config, str(tmp_path))
        assert result["step"] == 2
        assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [2]

    def read_jsonl(path):
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def free_port():
        with socket.socket() as s:
            s.bind(("localhost", 0))
            return s.getsockname()[1]

    def run_two_processes(workdir, mode):
        """The hard config in two jax.distributed processes with 4 devices each,
        on localhost; returns their outputs, after checking that both succeeded."""
        port = free_port()
        processes = [run_script("--workdir", workdir, f"--config.parallel={mode}", *HARD,
                                devices=4, background=True, extra_env={
                                    "JAX_COORDINATOR_ADDRESS": f"localhost:{port}",
                                    "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": str(i)})
                     for i in range(2)]
        outputs = [p.communicate(timeout=600)[0] for p in processes]
        for p, output in zip(processes, outputs, strict=True):
            assert p.returncode == 0, output[-3000:]
        return outputs

    @pytest.mark.slow
    def test_two_processes_train_the_one_device_run_with_pmap(one_device_run, tmp_path):
        """Two jax.distributed processes with 4 devices each, on localhost, with
        pmap; sharded jit in two processes trains (and saves) in the test below,
        from the checkpoint at step 4 to the end, and meets the same state."""
        workdir = str(tmp_path / "run")
        outputs = run_two_processes(workdir, "pmap")
        # Process 0 reports and writes the logs, once; process 1 stays quiet.
        assert "done: step 8" in outputs[0] and "done: step 8" not in outputs[1]
        assert [r["step"] for r in read_jsonl(os.path.join(workdir, "metrics.jsonl"))] == [4, 8]
        assert len([f for f in os.listdir(workdir) if f.startswith("events.out")]) == 1
        # One process (this one, with 8 devices) restores what the two saved.
        step, saved, state = final_state(workdir)
        assert step == 8 and saved[loop.DEVICES_KEY] == 8
        assert_same(state, final_state(one_device_run)[2])

    @pytest.mark.slow
    def test_sigterm_to_both_processes_saves_once_where_they_agree_and_the_run_resumes(
            tmp_path):
        """A scheduler's SIGTERM reaches every process of a job. Each process
        keeps training until a log step, where they agree to stop (a process
        that stopped alone would leave the other waiting in a collective); both
        exit 143, process 0 names the step, and the checkpoint there resumes."""
        workdir = str(tmp_path / "run")
        port = free_port()
        long_run = ("--config.num_steps=100000", "--config.log_every=4",
                    "--config.checkpoint_every=100000", "--config.eval_every=100000")
        processes = [run_script("--workdir", workdir, "--config.parallel=jit", *HARD, *long_run,
                                devices=4, background=True, extra_env={
                                    "JAX_COORDINATOR_ADDRESS": f"localhost:{port}",
                                    "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": str(i)})
                     for i in range(2)]
        try:
            log = os.path.join(workdir, "metrics.jsonl")
            deadline = time.monotonic() + 600
            while not (os.path.exists(log) and read_jsonl(log)):  # training has begun
                assert all(p.poll() is None for p in processes), "a process ended early"
                assert time.monotonic() < deadline
                time.sleep(0.05)
            for p in processes:
                p.send_signal(signal.SIGTERM)
            outputs = [p.communicate(timeout=300)[0] for p in processes]
        finally:
            for p in processes:
                if p.poll() is None:
                    p.kill()
        for p, output in zip(processes, outputs, strict=True):
            assert p.returncode == 143, output[-3000:]
        last = outputs[0].strip().splitlines()[-1]
        assert last.startswith("interrupted at step "), last
        stopped = int(last.split()[3].rstrip(";"))
        assert stopped % 4 == 0  # at a log step, where the processes agree
        assert os.listdir(os.path.join(workdir, "checkpoints")) == [str(stopped)]  # one save
        resumed = run_script("--workdir", workdir, "--config.parallel=jit", *HARD,
                             f"--config.num_steps={stopped + 4}", "--config.log_every=4",
                             devices=8)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert [r["step"] for r in read_jsonl(log)][-2:] == [stopped, stopped + 4]

    def test_max_gradient_norm_keeps_a_nan_across_devices():
        """A max all-reduced across devices may drop NaN; the logged max must not."""
        from jaxgan.step import _nan_max, _nan_pmax

        x = jnp.array([jnp.nan, 1, 2, 3, 4, 5, 6, 7], jnp.float32)
        assert np.isnan(jax.pmap(lambda v: _nan_pmax(v, "i"), "i")(x)[0])
        assert jax.pmap(lambda v: _nan_pmax(v, "i"), "i")(x.at[0].set(0.0))[0] == 7.0
        mesh = parallel.data_mesh()
        sharded = parallel.put_global(x[None], parallel.batch_sharding(mesh))
        assert np.isnan(jax.jit(lambda v: _nan_max(v))(sharded))

    @pytest.mark.slow
    def test_two_processes_resume_past_a_damaged_checkpoint(one_device_run, tmp_path):
        """Process 0 sets the damaged newest checkpoint aside, process 1 skips it;
        both resume from the one before and reach the one-device state, training
        steps 5 to 8 with sharded jit in two processes (the two-process jit run
        of the test above it had, which this one covers: it trains, saves and
        logs the same way from step 4)."""
        workdir = str(tmp_path / "run")
        train.train_and_evaluate(hard_config(parallel="jit"), workdir)
        for folder, _, files in os.walk(os.path.join(workdir, "checkpoints", "8", "state")):
            for name in files:
                if os.sep + "d" in folder:  # the array chunks
                    with open(os.path.join(folder, name), "r+b") as f:
                        f.truncate(8)
        outputs = run_two_processes(workdir, "jit")
        assert "the checkpoint at step 8 is unreadable" in outputs[0]
        assert "moved it to" in outputs[0] and "left it in place" in outputs[1]
        assert len(os.listdir(os.path.join(workdir, "checkpoints-unreadable"))) == 1
        assert "done: step 8" in outputs[0] and "done: step 8" not in outputs[1]
        # Steps 4 and 8 logged once each: the in-process run's, then the resume's step 8.
        assert [r["step"] for r in read_jsonl(os.path.join(workdir, "metrics.jsonl"))] == [4, 8]
        step, saved, state = final_state(workdir)
        assert step == 8 and saved[loop.DEVICES_KEY] == 8
        assert_same(state, final_state(one_device_run)[2])
