"""The papers the notebooks reproduce: citation, the paper's setting, its claims, the metrics to show.

Keyed by notebook file name (without .ipynb); the report (labkit.runs.report) puts each paper beside what
the lab measured.
"""

from __future__ import annotations

from pathlib import Path

# What each notebook reproduces, keyed by the notebook's file name. Paper numbers are given only where we are sure of
# them (quoted from the paper's abstract); otherwise the paper's qualitative claim is given, never an invented value.
PAPERS = {
    "00_kl_mode_seeking": {
        "title": "Forward vs reverse KL: mode covering and mode seeking",
        "paper": "Bishop, *Pattern Recognition and Machine Learning* (2006), §10.1.2, Fig. 10.3; "
        "Minka, *Divergence measures and message passing* (2005)",
        "paper_setting": "a single Gaussian q fitted to a two-component Gaussian mixture p (closed-form picture)",
        "claims": [
            {
                "claim": "Minimising forward KL(p‖q) makes q cover both modes, putting mass in the low-density "
                "region between them; minimising reverse KL(q‖p) makes q lock onto one mode.",
                "source": "Bishop 2006, Fig. 10.3",
                "lab": {"table": "sequences", "label": "divergence", "values": ["void_mass", "modes_covered"]},
            },
        ],
        "key_metrics": ["sequences.*.void_mass", "sequences.*.modes_covered"],
    },
    "01_distilling_step_by_step": {
        "title": "Distilling step-by-step",
        "paper": "Hsieh et al., *Distilling Step-by-Step! Outperforming Larger Language Models with Less "
        "Training Data and Smaller Model Sizes*, Findings of ACL 2023 (arXiv:2305.02301)",
        "paper_setting": "T5-Base/Large (220M/770M) students; PaLM-540B few-shot CoT rationales; e-SNLI, ANLI, "
        "CQA, SVAMP; TPU/GPU training",
        "claims": [
            {
                "claim": "A 770M T5 student trained with rationales outperforms the few-shot prompted 540B PaLM "
                "teacher using only 80% of the available data on a benchmark (ANLI), while standard "
                "finetuning of the same T5 does not match it even with 100% of the data.",
                "source": "Hsieh et al. 2023, abstract",
                "lab": {"claims": ["student>teacher"]},
            },
            {
                "claim": "Distilling step-by-step beats standard fine-tuning on the full data set while using only "
                "12.5 % "
                "of it (e-SNLI, T5-Base 220M students).",
                "source": "Hsieh et al. 2023, §4.1 data-size experiments (the number as the lab's reading notes "
                "quote it)",
                "lab": {"claims": ["dss@less-data>ft@all"]},
            },
            {
                "claim": "Rationale multi-task training beats standard finetuning and standard (label) "
                "distillation across training-set sizes (12.5% … 100%): it needs less data for the same "
                "accuracy.",
                "source": "Hsieh et al. 2023, data-size experiments (qualitative)",
                "lab": {"claims": ["dss>ft", "dss>kd"]},
            },
        ],
        "key_metrics": ["accuracy.*", "teacher_accuracy"],
    },
    "02_tinyllm_multi_teacher": {
        "title": "TinyLLM: many teachers, teacher-forced rationales",
        "paper": "Tian et al., *TinyLLM: Learning a Small Student from Multiple Large Language Models* (2024)",
        "paper_setting": "FLAN-T5 small/base/large students; FLAN-T5-xl and LLaMA-2-chat-7B teachers; OBQA, "
        "ARC, PIQA, RiddleSense, PubMedQA, BioASQ; lr 5e-5, batch 16, 1 epoch, GPU",
        "claims": [
            {
                "claim": "Students learning from several teachers' teacher-forced rationales beat full "
                "fine-tuning and single-teacher distillation, and can outperform the much larger teachers.",
                "source": "Tian et al. 2024, main results (qualitative)",
            },
            {
                "claim": "Averaged over six datasets, TinyLLM beats full fine-tuning by +12.57 % / +11.40 % / +5.07 "
                "% for "
                "80M / 250M / 780M FLAN-T5 students, and a 250M student beats the 3B and 7B teachers (+0.70 %, "
                "+16.82 %).",
                "source": "Tian et al. 2024, Table 1 and its discussion (the numbers as the lab's reading notes "
                "quote them)",
                "lab": {"claims": ["full>label-only"]},
            },
            {
                "claim": "Ablations: removing the in-context examples or any one teacher lowers accuracy; the best "
                "α differs by dataset (α searched in {0.01, 0.1, 0.5, 1, 2, 3}).",
                "source": "Tian et al. 2024, ablation and α-sensitivity figures (qualitative)",
                "lab": {"claims": ["full>w/o", "alpha"]},
            },
        ],
        "key_metrics": ["accuracy.*"],
    },
    "03_minillm_reverse_kl": {
        "title": "MiniLLM: reverse KL by policy gradient",
        "paper": "Gu et al., *MiniLLM: Knowledge Distillation of Large Language Models*, ICLR 2024",
        "paper_setting": "GPT-2 (120M–760M), OPT (1.3B–6.7B), LLaMA-7B students from GPT-2-1.5B, OPT-13B, "
        "LLaMA-13B teachers; instruction following trained on databricks-dolly-15k; ROUGE-L "
        "and GPT-4 feedback; GPU",
        "claims": [
            {
                "claim": "Reverse-KL distillation (MiniLLM) gives higher ROUGE-L / GPT-4 scores than SFT, "
                "word-level KD and SeqKD, with lower exposure bias and better calibration; each of the "
                "three stabilisers (single-step decomposition, teacher-mixed sampling, length "
                "normalisation) helps.",
                "source": "Gu et al. 2024, main results and ablations (qualitative)",
                "lab": {"table": "arms", "label": "arm", "values": ["rouge_l", "teacher_loglik", "accuracy"]},
            },
        ],
        "key_metrics": ["*/rouge_l", "*/teacher_loglik", "*/accuracy"],
    },
    "04_gkd_on_policy": {
        "title": "GKD: on-policy distillation",
        "paper": "Agarwal et al., *On-Policy Distillation of Language Models: Learning from Self-Generated "
        "Mistakes*, ICLR 2024",
        "paper_setting": "T5 small/base/large students from a T5-XL teacher; XSum summarisation, WMT en→de, GSM8K; TPU",
        "claims": [
            {
                "claim": "Training on the student's own samples (on-policy, λ=1) beats supervised KD on fixed "
                "data (λ=0); which divergence (β) works best depends on the task and decoding.",
                "source": "Agarwal et al. 2024 (qualitative)",
                "lab": {"table": "gkd_grid", "label": "arm", "values": ["accuracy", "teacher_loglik"]},
            },
        ],
        "key_metrics": ["best.accuracy", "single_run.accuracy", "single_run.teacher_loglik"],
    },
    "05_survey_map": {
        "title": "The survey's map of LLM distillation, in miniature",
        "paper": "Zhu, Li, Liu, Ma & Wang, *A Survey on Model Compression for Large Language Models*, "
        "arXiv:2308.07633 (TACL 2024), §3 Knowledge Distillation; the methods: Ho et al., *Large Language "
        "Models Are Reasoning Teachers* (ACL 2023); Wang et al., *SCOTT: Self-Consistent Chain-of-Thought "
        "Distillation* (ACL 2023); Shridhar et al., *Distilling Reasoning Capabilities into Smaller "
        "Language Models* (Findings of ACL 2023); Huang et al., *In-context Learning Distillation* "
        "(arXiv:2212.10670, 2022); Jiang et al., *Lion: Adversarial Distillation of Proprietary Large "
        "Language Models* (EMNLP 2023, arXiv:2305.12870)",
        "paper_setting": "GPT-3 (175B) / ChatGPT teachers; GPT-2 / T5 / OPT / LLaMA-7B students; GSM8K, SVAMP, "
        "CommonsenseQA, StrategyQA, instruction following and others; GPU",
        "claims": [
            {
                "claim": "Fine-tune-CoT: sampling several reasoning paths per question (diverse reasoning) "
                "substantially improves the student.",
                "source": "Ho et al. 2023, §5 (qualitative)",
                "lab": {"table": "finetune_cot", "label": "arm", "values": ["accuracy"]},
            },
            {
                "claim": "SCOTT: rationales consistent with the answer make a student whose answers follow its own "
                "rationales (more faithful), at comparable accuracy.",
                "source": "Wang et al. 2023 (qualitative)",
                "lab": {"table": "scott", "label": "arm", "values": ["accuracy", "faithfulness"]},
            },
            {
                "claim": "Socratic CoT: a sub-question decomposer and a solver outperform a student trained on whole "
                "chains of thought.",
                "source": "Shridhar et al. 2023 (qualitative)",
                "lab": {"table": "socratic", "label": "arm", "values": ["accuracy"]},
            },
            {
                "claim": "In-context learning distillation: Multitask-ICT beats Meta-ICT on the target tasks, at a "
                "higher cost (it needs the target tasks' examples).",
                "source": "Huang et al. 2022 (qualitative)",
                "lab": {"table": "icl", "label": "arm", "values": ["accuracy"]},
            },
            {
                "claim": "Lion: growing the instruction pool where the student fails (a referee finds the hard "
                "instructions, a generator writes more like them) makes a better student.",
                "source": "Jiang et al. 2023 (qualitative)",
                "lab": {"table": "lion", "label": "arm", "values": ["accuracy"]},
            },
        ],
        "key_metrics": ["accuracy.*"],
    },
    "06_cross_tokenizer": {
        "title": "Cross-tokenizer KD: ULD and a GOLD-style hybrid",
        "paper": "Boizard et al., *Towards Cross-Tokenizer Distillation: the Universal Logit Distillation Loss for "
        "LLMs* (2024, arXiv:2402.12030); GOLD (General On-policy Logit Distillation), TRL documentation; "
        "X-Token's comparison, second-hand (not checked against the X-Token paper)",
        "paper_setting": "ULD: Llama-2, Mistral-7B, Qwen teachers for Pythia/OPT/Bloomz students on extractive QA, "
        "generative QA and summarisation, GPU; GOLD: TRL trainer, any teacher/student pair; "
        "X-Token: GSM8K",
        "claims": [
            {
                "claim": "Distilling with the ULD loss (sorted probability vectors, no shared vocabulary) beats "
                "training the student on the text alone, across teacher/student pairs with different "
                "tokenizers.",
                "source": "Boizard et al. 2024 (qualitative)",
                "lab": {"table": "arms", "label": "arm", "values": ["accuracy", "digit_logprob"]},
            },
            {
                "claim": "GOLD's hybrid (byte-offset alignment, merged probabilities of split tokens, JSD on the "
                "tokens both vocabularies share, ULD on the rest) improves on ULD alone.",
                "source": "TRL documentation, GOLD trainer (qualitative)",
            },
            {
                "claim": "When a multi-digit number is one token for one model and several for the other, numbers fall "
                "into GOLD's unmatched set and GSM8K accuracy suffers: GOLD 2.56 vs same-tokenizer KD 12.89. "
                "Second-hand: these numbers are not checked against the X-Token paper.",
                "source": "X-Token (NVIDIA), GSM8K table, second-hand",
            },
        ],
        "key_metrics": ["alignment.*", "arms.*.accuracy", "arms.*.digit_logprob"],
    },
    "07_on_policy_distillation": {
        "title": "On-policy distillation vs reinforcement learning vs SFT, on a compute ledger",
        "paper": "Lu & Thinking Machines Lab, *On-Policy Distillation*, Thinking Machines Lab: Connectionism (Oct "
        "2025); Agarwal et al., *On-Policy Distillation of Language Models: Learning from Self-Generated Mistakes*, "
        "ICLR 2024 (GKD); Shao et al., *DeepSeekMath* (2024, GRPO)",
        "paper_setting": "Qwen3-8B-Base student, SFT-initialised, taught by Qwen3-32B; AIME'24; on-policy "
        "distillation (per-token reverse KL on the student's samples) against RL on a correctness reward; GPU",
        "claims": [
            {
                "claim": "On-policy distillation reaches 74.4 % on AIME'24 against 67.6 % for RL, with about 1,800 "
                "GPU-hours against 17,920: a dense per-token signal instead of one reward per episode, at 9-30x "
                "less compute.",
                "source": "Thinking Machines Lab, On-Policy Distillation (2025), reasoning experiment",
                "lab": {"claims": ["opd<rl:compute"]},
            },
            {
                "claim": "On-policy distillation beats off-policy distillation (SFT on the teacher's samples) at "
                "equal compute.",
                "source": "Thinking Machines Lab, On-Policy Distillation (2025); Agarwal et al. 2024 (qualitative)",
                "lab": {"claims": ["opd>sft@compute"]},
            },
        ],
        "key_metrics": ["compute_ratio.ratio", "compute_ratio.lo", "compute_ratio.hi", "arms.*.accuracy"],
    },
}

SCALE_NOTE = (
    "**Scale.** Everything below is a CPU miniature of the papers: the lab's students and teachers "
    "are small models (the embedded SmolLM2-135M-Instruct / Gemma-3-270M, students derived from them "
    "by keeping every k-th layer, or the tiny built-in models at profile `smoke`; scripted and "
    "recorded teachers), trained for minutes on a few hundred examples. The papers used FLAN-T5/T5 "
    "and GPT-2/OPT/LLaMA students with FLAN-T5-XL, LLaMA-2, PaLM-540B teachers on GPUs/TPUs. "
    "Compare directions and trends, not absolute numbers."
)


# Each claim's statement, written once, keyed by notebook ("03") and claim id. A statement is a template: the code
# that measures the claim fills in its {fields} (an arm's name, a β), never a measured number.
STATEMENTS: dict[str, dict[str, str]] = {
    "01": {
        "dss>ft": "Distilling step-by-step (gold labels + rationales) beats standard fine-tuning at equal data "
        "(Hsieh et al., 2023, §4.1, Fig. 4)",
        "dss>kd": "Distilling step-by-step (teacher labels + rationales) beats standard task distillation (teacher "
        "labels) at equal data (Hsieh et al., 2023, §4.1, Fig. 5)",
        "dss@less-data>ft@all": "Distilling step-by-step on {fraction} of the data beats standard fine-tuning on 100 % "
        "(Hsieh et al., 2023, abstract and §4.1)",
        "student>teacher": "The step-by-step student (trained on the teacher's labels) outperforms its teacher (Hsieh "
        "et al., 2023, abstract: a 770M T5 beats few-shot PaLM-540B)",
    },
    "02": {
        "teacher-forced>cot": "Teacher-forced rationales (gold answer in the prompt) agree with the gold answer more "
        "often than plain CoT (Tian et al., 2024, §3.2; live teacher {teacher}, effect per "
        "question, n={n})",
        "full>label-only": "TinyLLM (answer + rationales of all teachers) beats label-only fine-tuning (Tian et al., "
        "2024, Table 2)",
        "full>w/o": "TinyLLM beats its ablation without teacher {teacher} (Tian et al., 2024, ablation study, Table 3)",
        "full>w/o in-context": "TinyLLM beats its ablation without in-context examples (Tian et al., 2024, Table 3)",
        "alpha": "α-sensitivity: α={full} beats α={other} (the best α is interior and data-dependent; Tian et al., "
        "2024, Fig. 4)",
    },
    "03": {
        "minillm>base:rouge_l": "MiniLLM's responses beat {base}'s on ROUGE-L against the references (Gu et al., "
        "MiniLLM, ICLR 2024, Table 1 / §3.3).",
        "minillm>base:teacher_loglik": "MiniLLM's responses beat {base}'s on the teacher log-likelihood per token of "
        "its samples (Gu et al., MiniLLM, ICLR 2024, §3.3).",
        "minillm~sft": "MiniLLM does not collapse: {metric} within ±20% of SFT's (Gu et al., MiniLLM, ICLR 2024, §3.4 "
        "diversity; 'no mode collapse').",
        "minillm>ablation": "Removing a stabiliser ({arm}) hurts ROUGE-L (Gu et al., MiniLLM, ICLR 2024, ablation "
        "Table 6 / Fig. 5).",
        "single-step<var": "The single-step decomposition reduces the variance of the policy gradient (Gu et al., "
        "MiniLLM, ICLR 2024, §2.2, Fig. 6).",
        # known teacher (kit="known"): the quantities the paper argues about, measured exactly
        "minillm<base:void_mass": "MiniLLM's samples put less mass in the void (responses the teacher finds "
        "unlikely) than {base}'s: the reverse KL is mode-seeking, the forward KL mode-covering (Gu et al., MiniLLM, "
        "ICLR 2024, §2.1, Fig. 2).",
        "base>minillm:modes_covered": "{base} covers more of the teacher's modes per prompt than MiniLLM: mode "
        "seeking drops minor modes (Gu et al., MiniLLM, ICLR 2024, §2.1).",
        "minillm<base:reverse_kl": "MiniLLM reaches a lower sequence-level reverse KL(q‖p) than {base} (Gu et al., "
        "MiniLLM, ICLR 2024, §2.1, eq. 1).",
        "minillm<ablation:reverse_kl": "Removing a stabiliser ({arm}) leaves MiniLLM a higher reverse KL(q‖p) "
        "(Gu et al., MiniLLM, ICLR 2024, ablation Table 6 / Fig. 5).",
    },
    "04": {
        "onpolicy>supervised": "On-policy GKD (λ={on}) beats supervised KD (λ=0) at the same divergence β={beta} "
        "(Agarwal et al., GKD, ICLR 2024, Figs. 3-5).",
        "onpolicy~supervised": "On-policy training does not collapse: {metric} within ±20% of supervised KD's "
        "(β={beta}; "
        "Agarwal et al., GKD, ICLR 2024, on-policy diversity).",
        # known teacher (kit="known"): the train/inference mismatch, measured exactly
        "onpolicy<supervised:own_prefix_jsd": "On-policy GKD (λ={on}) is closer to the teacher token by token on its "
        "own samples (per-token JSD_0.5) than supervised KD (λ=0) at the same divergence β={beta}: it trains on "
        "the prefixes it will generate (Agarwal et al., GKD, ICLR 2024, §3, train/inference mismatch).",
        "onpolicy<supervised:exposure_gap": "On-policy GKD (λ={on}) shrinks the gap between the per-token divergence "
        "on its own samples and on the teacher's, against supervised KD (λ=0) at β={beta} (Agarwal et al., GKD, "
        "ICLR 2024, §1, exposure bias).",
        "onpolicy≥supervised:modes_covered": "On-policy training does not collapse modes: it covers at least 80 % "
        "of the teacher's modes that supervised KD covers, at β={beta} (Agarwal et al., GKD, ICLR 2024, "
        "on-policy diversity).",
    },
    "05": {
        "05.ftcot.diverse>single": "Diverse reasoning (k sampled teacher paths per question, the correct ones kept) "
        "improves Fine-tune-CoT students over one greedy path (Ho et al., 2023, §5, diverse "
        "reasoning); here at equal optimiser steps",
        "05.scott.faithful": "Training on rationales consistent with the answer makes the student's answers follow its "
        "own rationales (Wang et al., 2023, SCOTT, faithfulness)",
        "05.scott.accuracy": "Consistent rationales keep or improve the student's accuracy (Wang et al., 2023, SCOTT)",
        "05.socratic>cot": "A decomposer and a sub-question solver (Socratic CoT) beat one student trained on whole "
        "chains of thought (Shridhar et al., 2023, §5)",
        "05.lion.hard>random": "New instructions made like the ones the student fails (Lion's discrimination and "
        "generation) teach it more than as many made like instructions drawn at random (Jiang "
        "et al., 2023, Lion)",
        "05.icl.multitask>meta": "Multitask-ICT beats Meta-ICT on the target tasks, in context (Huang et al., 2022, "
        "§5)",
        "05.icl.meta>ft": "In-context training on other tasks (Meta-ICT) lets the student use demonstrations of unseen "
        "tasks, which plain fine-tuning on the target tasks does not (Huang et al., 2022)",
    },
    "06": {
        "uld>sft": "ULD distillation from a teacher with another tokenizer beats training on the text alone (Boizard "
        "et "
        "al. 2024, ULD, arXiv:2402.12030, main results).",
        "hybrid>uld": "The GOLD-style hybrid (identities where the vocabularies agree, ULD on the rest) beats ULD "
        "alone "
        "(TRL docs, GOLD trainer).",
        "same-tok>hybrid": "When numbers are one token for the teacher and several for the student, same-tokenizer KD "
        "beats the GOLD-style hybrid (X-Token, second-hand, not checked against the X-Token paper: "
        "GSM8K GOLD 2.56 vs same-tokenizer KD 12.89).",
        "same-tok>hybrid(KD only)": "The same, with the KD term alone (no cross-entropy on the gold text) (X-Token, "
        "second-hand, not checked against the X-Token paper).",
        "hybrid>uld:cut_differently": "Where the two tokenizers cut the text differently (every number of the "
        "miniature: one teacher token, several student tokens), the GOLD-style hybrid beats ULD on the student's "
        "log-probability per gold token of those chunks (TRL docs, GOLD trainer: identities where the "
        "vocabularies agree, ULD on the rest).",
        "cut": "{better} beats {worse} on the gold tokens of the chunks the tokenizers cut {cut} (teacher tokens : "
        "student tokens; 1:1 is cut the same).",
    },
    "07": {
        "opd<rl:compute": "On-policy distillation reaches the RL arm's final test accuracy with less compute than RL "
        "spent: effect per seed log10(FLOPs of RL / FLOPs of on-policy distillation to first reach it) (Thinking "
        "Machines Lab, On-Policy Distillation, 2025: about 1,800 against 17,920 GPU-hours, 9-30x).",
        "opd>sft@compute": "On-policy distillation beats off-policy distillation (SFT on the teacher's samples, its "
        "data's sampling cost included) in test accuracy at equal compute (Thinking Machines Lab, 2025; Agarwal et "
        "al., GKD, ICLR 2024).",
        "rl+opd>rl": "Adding the teacher's per-token reverse KL to RL on the same samples beats RL alone at equal "
        "steps (Thinking Machines Lab, 2025: the dense signal).",
        "rl>opd@weak": "With a weaker teacher (accuracy {accuracy}) RL beats on-policy distillation: the teacher "
        "caps distillation, not RL, which reads only the reward (Thinking Machines Lab, 2025: distillation "
        "learns the teacher's behaviour).",
    },
}

# The reading of a claim that does not hold (or of an arm that does not learn), written once per claim id (or
# id prefix, or "<arm>|<metric>" for learning rows): a template whose {fields} are filled from the run's own
# metrics (``claims.not_holding(..., numbers=...)``), so a reading never states a number the run did not measure.
READINGS: dict[str, dict[str, str]] = {
    "01": {
        "*": "the effect is smaller than the seed-to-seed spread at this budget.",
        "student>teacher": "the student trained on the noisy teacher's labels (right on {teacher_accuracy:.0%} of the "
        "training questions) ends at {step_by_step_accuracy:.2f}: about its teacher's level, not "
        "clearly above it; the paper's students that beat the teacher are pretrained T5 models "
        "trained for thousands of steps.",
        "dss": "the arms end at: fine-tuning {fine_tuning_accuracy:.2f}, distillation {distillation_accuracy:.2f}, "
        "step-by-step {step_by_step_accuracy:.2f}, with gold labels {step_by_step_gold_labels_accuracy:.2f} "
        "(the learning table says which left their step 0); step-by-step's lead is what remains once the "
        "answer-only arms have learned, and {n_seeds} seeds give a Student-t interval that is wide next to the "
        "answer-only arms' seed-to-seed spread.",
        "learn:fine-tuning": "the answer-only arms learn late: their learning curves cross from chance later than the "
        "rationale arms' (benchmarks/RESULTS.md, 'when do the answer-only arms learn?'), and at "
        "{steps} steps not every seed has.",
        "learn:distillation": "the answer-only arms learn late, and on the noisy teacher's labels (right on "
        "{teacher_accuracy:.0%} of the training questions) later still.",
        "real:*": "at profile 'real' the pretrained student does not learn CQA within the steps that fit a CPU "
        "notebook (the learning table: every arm against its step 0), so the arms differ by how much they "
        "lose, within the seed spread; the paper trains 220M-11B T5 students for thousands of steps.",
    },
    "02": {
        "*": "the effect is smaller than the seed-to-seed spread at this budget.",
        "teacher-forced>cot": "the live teacher ({live_teacher}) agrees with the gold answer on {live_cot:.0%} of the "
        "{n_live} questions with plain CoT and {live_teacher_forced:.0%} when shown the answer: "
        "a small model often does not restate the answer it is given; TinyLLM's teachers are "
        "3B-7B models.",
        "full>w/o": "the scripted teachers write rationales from the same gold steps (one with noise), so a teacher "
        "removed takes little information with it.",
        "full>label-only": "the label-only student ends at {label_only_fine_tuning_accuracy:.2f} against the full "
        "run's {tinyllm_full_accuracy:.2f}; the difference is within the seed spread at this "
        "budget.",
        "alpha": "the α curve is flat within the seed spread at this budget.",
        "learn:label only": "the answer-only student learns late: at {steps} steps it has not left chance in every "
        "seed (notebook 02's other comparisons are between rationale arms, which learn sooner).",
        "real:teacher-forced>cot": "the live teacher ({live_teacher}) agrees with the gold answer on {live_cot:.0%} of "
        "the {n_live} questions with plain CoT and {live_teacher_forced:.0%} when shown the "
        "answer.",
        "real:*": "at profile 'real' the rationale losses (α per teacher, sequences several times longer than the "
        "answer) share the few updates that fit a CPU with the answer loss and add nothing measurable yet; "
        "the seed-to-seed spread (from the data order) is larger than the arms' differences, and the "
        "recorded rationales often state no answer or another one (the teachers table). The paper trains "
        "FLAN-T5 students for an epoch on GPUs.",
    },
    "03": {
        "*": "the effect of this switch is smaller than the seed-to-seed spread at {steps} steps.",
        "minillm>sft:rouge_l": "SFT trains on the gold solutions that ROUGE-L compares against (SFT {sft_rouge_l:.3f}, "
        "MiniLLM {minillm_rouge_l:.3f}); MiniLLM moves the student toward the teacher's own "
        "answers, and the teacher itself answers {teacher_accuracy:.2f} of the validation "
        "questions right.",
        "minillm>kd:rouge_l": "word-level KD on gold prefixes already transfers the teacher's next-token distribution "
        "(KD {kd_rouge_l:.3f}, MiniLLM {minillm_rouge_l:.3f}); MiniLLM's sampled-sequence gradient "
        "is the noisier of the two at {steps} steps.",
        "minillm>sft:teacher_loglik": "the teacher log-likelihood per token of the samples is "
        "{student_init_teacher_loglik:.2f} at the init, {sft_teacher_loglik:.2f} after SFT "
        "and {minillm_teacher_loglik:.2f} after MiniLLM: SFT fits the gold solutions the "
        "teacher was trained on, which the teacher also finds likely, and the gap between "
        "the two is within the seed spread at {steps} steps.",
        "minillm>kd:teacher_loglik": "the teacher log-likelihood per token of the samples is "
        "{student_init_teacher_loglik:.2f} at the init, {kd_teacher_loglik:.2f} after "
        "word-level KD and {minillm_teacher_loglik:.2f} after MiniLLM: the gap between the "
        "two is within the seed spread at {steps} steps.",
        "minillm~sft:gen_words": "MiniLLM's samples average {minillm_gen_words:.1f} words against SFT's "
        "{sft_gen_words:.1f}: the reverse KL on the student's own samples rewards ending where "
        "the teacher is confident, and the interval reaches past ±20 %.",
        "learn:minillm|test rouge_l": "MiniLLM moves the student toward what the teacher finds likely (its teacher "
        "log-likelihood row), not toward the gold text that ROUGE-L compares against.",
        "learn:minillm": "this MiniLLM variant moves toward the teacher's likely outputs, not the gold text, and "
        "with a "
        "stabiliser off it is less stable: without length normalisation it is the paper's collapse to "
        "short answers, without the single-step term or teacher mixing its sampled gradient varies "
        "more over seeds.",
        # on a known teacher (kit="known"): these replace the readings of the same claims
        "known:minillm<kd:void_mass": "the void mass of the samples is {student_init_void_mass:.3f} at the init, "
        "{kd_void_mass:.3f} after word-level KD and {minillm_void_mass:.3f} after MiniLLM (the teacher's own "
        "samples: {teacher_void_mass_test:.3f}); at {steps} steps the difference is within the seed spread.",
        "known:minillm<sft:void_mass": "the void mass of the samples is {student_init_void_mass:.3f} at the init, "
        "{sft_void_mass:.3f} after SFT and {minillm_void_mass:.3f} after MiniLLM (the teacher's own samples: "
        "{teacher_void_mass_test:.3f}); at {steps} steps the difference is within the seed spread.",
        "known:minillm<seqkd:void_mass": "SeqKD trains on the teacher's greedy output, its heaviest template, where "
        "mode seeking leads too: its void mass is {seqkd_void_mass:.3f} against MiniLLM's {minillm_void_mass:.3f}.",
        "known:sft>minillm:modes_covered": "the samples cover {student_init_modes_covered:.2f} templates per prompt "
        "at the init, {sft_modes_covered:.2f} after SFT on the teacher's samples and {minillm_modes_covered:.2f} "
        "after MiniLLM (word-level KD: {kd_modes_covered:.2f}): SFT's single sampled target per position moves the "
        "template mix less than word-level KD's full next-token distribution.",
        "known:seqkd>minillm:modes_covered": "SeqKD trains on one template per prompt, the teacher's greedy output, so "
        "it drops minor modes itself: {seqkd_modes_covered:.2f} templates per prompt against MiniLLM's "
        "{minillm_modes_covered:.2f}.",
        "known:minillm<seqkd:reverse_kl": "SeqKD's single greedy template per prompt is itself a mode-seeking "
        "target: its reverse KL is {seqkd_reverse_kl:.2f} against MiniLLM's {minillm_reverse_kl:.2f}.",
        "known:minillm<−length-norm:reverse_kl": "without length normalisation MiniLLM collapses onto one template per "
        "prompt ({minillm_length_norm_modes_covered:.2f} templates per prompt against {minillm_modes_covered:.2f}; "
        "{minillm_length_norm_gen_words:.1f} words per sample against {minillm_gen_words:.1f}), where its "
        "sequence-level KL can stay low: this measure cannot see the collapse that is the ablation's point.",
        "known:minillm>sft:teacher_loglik": "the teacher's log-likelihood per token of the samples is "
        "{student_init_teacher_loglik:.2f} at the init, {sft_teacher_loglik:.2f} after SFT and "
        "{minillm_teacher_loglik:.2f} after MiniLLM; at {steps} steps the gap is within the seed spread.",
        "known:minillm>kd:teacher_loglik": "the teacher's log-likelihood per token of the samples is "
        "{student_init_teacher_loglik:.2f} at the init, {kd_teacher_loglik:.2f} after word-level KD and "
        "{minillm_teacher_loglik:.2f} after MiniLLM; at {steps} steps the gap is within the seed spread.",
        "known:minillm~sft:distinct_2": "MiniLLM's samples have distinct-2 {minillm_distinct_2:.3f} against SFT's "
        "{sft_distinct_2:.3f}: seeking fewer templates narrows the wording, and the ±20 % band counts that as a "
        "collapse (its modes covered, above, tells whether whole templates were dropped).",
    },
    "04": {
        "onpolicy>supervised": "the on-policy benefit (fixing the train/inference mismatch) is smaller than the seed "
        "spread here: the SFT-initialised student already writes well-formed solutions, so its "
        "own samples differ little from the teacher's outputs at {steps} steps.",
        "onpolicy~supervised": "the on-policy student's samples differ from supervised KD's by more than the ±20 % "
        "band "
        "in this measure (the interval reaches past it): on its own temperature-1 samples the "
        "student drifts in length or diversity within {steps} steps.",
        "learn:λ=0.0 β=1.0|test teacher_loglik": "the per-token reverse KL on gold prefixes (supervised, β = 1) is "
        "computed on prefixes the student does not generate; the teacher's "
        "likelihood of its own samples ends at "
        "{λ_0_0_β_1_0_teacher_loglik:.2f} against the init's "
        "{student_init_teacher_loglik:.2f}.",
        "learn:λ=1.0": "on-policy arms train on the student's own temperature-1 samples, not on the gold text, and "
        "their runs spread more over seeds at {steps} steps.",
        # on a known teacher (kit="known"): these replace the readings of the same claims
        "known:onpolicy<supervised:own_prefix_jsd": "the per-token divergence on the student's own samples is "
        "{student_init_own_prefix_jsd:.3f} at the init; at {steps} steps the on-policy and supervised students are "
        "within the seed spread of each other at this β.",
        "known:onpolicy<supervised:exposure_gap": "the exposure gap (divergence on the student's own samples minus on "
        "the teacher's) is {student_init_exposure_gap:.3f} at the init; at this β both students close it to within "
        "the seed spread of each other in {steps} steps.",
        "known:onpolicy>supervised": "at this β the supervised student's samples are already about as likely under "
        "the teacher as the on-policy student's after {steps} steps (the init: {student_init_teacher_loglik:.2f} "
        "per token).",
        "known:onpolicy≥supervised:modes_covered": "the on-policy student's samples cover fewer of the teacher's "
        "templates than supervised KD's at this β: on its own temperature-1 samples the student can settle on the "
        "templates it already writes (mode seeking, strongest at β = 1).",
        "known:onpolicy~supervised:distinct_2": "the interval of the two students' distinct-2 ratio reaches past the "
        "±20 % band at this β: supervised KD trains on the teacher's greedy output, one template per prompt, while "
        "the on-policy student keeps the templates it samples, so their wording can differ in diversity either way.",
    },
    "05": {
        "*": "the effect is smaller than the seed-to-seed spread at {steps} steps.",
        "05.ftcot.diverse>single": "at {value:g} training questions and equal steps each of the k paths is seen a "
        "k-th as often ({kept_1} kept paths against {kept_0} greedy ones, {steps} steps either way); the paper trains "
        "equal epochs (k times the updates).",
        "05.scott.faithful": "faithfulness {faithful_unfiltered:.2f} unfiltered, {faithful_consistent:.2f} consistent "
        "only (means over seeds): the from-scratch students' faithfulness moves from seed to seed by more than the "
        "filter moves it at {steps} steps.",
        "05.scott.accuracy": "the filter drops the inconsistent rationales, {inconsistent_share:.0%} of the teacher's "
        "targets at this rate: the consistent student trains on less data.",
        "05.socratic>cot": "each Socratic student has {pairs_per_question:.1f} pairs per question to learn in the same "
        "{steps} steps, and at test time one wrong sub-question or partial result ends wrong.",
        "05.lion.hard>random": "after imitation the student still disagrees with the teacher on {lion_hard:.0f} of its "
        "{lion_pool} pool questions: where the failures are most of the pool, questions like the failed ones are "
        "much like questions like any, and the referee has little to select.",
        "05.icl.multitask>meta": "the from-scratch students never learned to read the demonstrations (find the example "
        "of the query's item and copy its answer) in {steps} steps; the paper's students were "
        "pretrained GPT-2 models.",
        "05.icl.meta>ft": "no student learned to read the demonstrations in {steps} steps (see 05.icl.multitask>meta).",
    },
    "06": {
        "uld>sft": "ULD compares sorted probabilities, not tokens: it tells the student how peaked its next-token "
        "distribution should be, not which digit comes next, and on a task whose answer is a number that "
        "competes with the cross-entropy on the gold digits (training CE over the last quarter of the "
        "steps: ULD {ce_uld:.3f}, SFT {ce_sft:.3f}).",
        "hybrid>uld": "the hybrid's identity terms reach the exact chunks (words, operators), but every number only as "
        "one Bernoulli(P) vs Bernoulli(Q) term plus the sorted tail, so on the numbers it adds little "
        "over ULD; the gap is within the seed spread at {steps} steps.",
        "same-tok>hybrid(KD only)": "without the CE term the digits reach the hybrid's student only through the "
        "teacher: one probability per number against a full distribution per digit.",
        "same-tok>hybrid": "same-tokenizer KD hands the student the teacher's whole distribution over each digit, the "
        "hybrid one probability per number; but every arm also trains on the gold solutions (CE "
        "weight w = {ce_weight:g}), which teach the digits directly and mask the difference at "
        "{steps} steps (the KD-only arms measure w = 0).",
        "hybrid>uld:cut_differently": "on the chunks cut differently the hybrid falls back to ULD for everything but "
        "one Bernoulli(P) vs Bernoulli(Q) term per chunk (log-prob per student token there: hybrid "
        "{hybrid_logprob_cut_differently:.3f}, ULD {uld_logprob_cut_differently:.3f}; on the chunks cut the same: "
        "hybrid {hybrid_logprob_cut_same:.3f}, ULD {uld_logprob_cut_same:.3f}); by cut, {where}",
        "hybrid>uld@cut": "by cut, {where}",
    },
    "07": {
        "*": "the effect is smaller than the seed-to-seed spread at {steps} steps.",
        "opd<rl:compute": "RL ends at {rl_accuracy:.3f} and on-policy distillation at {opd_accuracy:.3f}; it first "
        "reaches RL's final accuracy in {reached} of {n_seeds} seeds (an unreached seed counts its whole budget), "
        "so the ratio ({ratio:.2f}x) is an upper bound there; with a teacher costed at {teacher_scale:g} student "
        "sizes, its per-step FLOPs are not much below RL's {group_size} samples per prompt.",
        "opd>sft@compute": "SFT spends little per step (no sampling, no teacher in the loop: its data's cost is paid "
        "once), so at equal FLOPs on-policy distillation is compared at an early step; the accuracies are SFT "
        "{sft_accuracy:.3f} and on-policy distillation {opd_accuracy:.3f} after {steps} steps.",
        "rl+opd>rl": "RL + on-policy distillation ends at {rl_opd_accuracy:.3f} and RL at {rl_accuracy:.3f}: the "
        "teacher's term and the reward pull the same way on this task, within the seed spread.",
        "rl>opd@weak": "the weaker teacher's samples are right {teacher_weak_accuracy:.2f} of the time (the strong "
        "one's {teacher_1_accuracy:.2f}); the student started from the strong teacher's data, and at {steps} steps "
        "on-policy distillation toward the weak teacher has not pulled it far from there.",
    },
}


def statement(notebook: str, id: str, **fields) -> str:
    """The statement of claim `id` of `notebook` ("03"), with its fields filled; LabkitError if unknown."""
    from labkit.errors import LabkitError

    table = STATEMENTS.get(str(notebook)[:2], {})
    if id not in table:
        raise LabkitError(
            f"notebook {notebook}: no statement for claim {id!r} in labkit.lab.papers.STATEMENTS; "
            f"known: {sorted(table)}"
        )
    return table[id].format(**fields)


def paper_of(notebook: str) -> dict | None:
    """The PAPERS entry of a notebook given by file name, stem or two-digit prefix ("03"); None if unknown."""
    stem = Path(str(notebook)).stem
    if stem in PAPERS:
        return PAPERS[stem]
    return next((spec for name, spec in PAPERS.items() if name[:2] == stem[:2]), None)
