# ezops.etcd: every set-up step a fresh Debian 12 machine needs lives here and in scripts/.
#   make demo   a 3-member TLS lab cluster, deployed with playbooks/02.etcd.yml, status shown
#   make test   everything: lint, unit, integration, sanity, molecule scenarios
# Faster targets for daily work: make lint | unit | integration | sanity | molecule-<scenario> | lab-down

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV          := $(CURDIR)/.venv
BIN           := $(VENV)/bin
ETCD_VERSION  ?= 3.5.16
LAB_SIZE      ?= 3
# make test runs the scenarios in LANES lanes side by side, each on its own lab (LAB_ID 0, 1, ...);
# a lane takes the next scenario when it is free, so the longest come first.
SCENARIOS     ?= faults default membership backup_restore
LANES         ?= 2
COLLECTION    := $(CURDIR)/.cache/collections/ansible_collections/ezops/etcd

export PATH                     := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export ANSIBLE_CONFIG           := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR      ?= 0
LAB_ID        ?= 0
LAB_DIR       := $(CURDIR)/.cache/lab$(LAB_ID)
export ETCD_VERSION LAB_SIZE LAB_ID

.PHONY: help venv collection host-deps etcd-binaries image lab-up lab-down demo status \
        lint unit integration sanity molecule test build changelog clean

help:
	@sed -n '2,4p' Makefile

# --- set-up -------------------------------------------------------------------------------
$(BIN)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(BIN)/.installed

# Ansible finds ezops.etcd.* through this link, so the working tree is the installed collection.
collection:
	@mkdir -p $(dir $(COLLECTION))
	@ln -sfn $(CURDIR) $(COLLECTION)

host-deps:
	scripts/lab/host-deps.sh

etcd-binaries:
	scripts/fetch-etcd.sh $(ETCD_VERSION)

image: host-deps
	scripts/lab/image.sh

lab-up: venv collection image etcd-binaries
	scripts/lab/lab.sh up

lab-down:
	scripts/lab/lab.sh down

# --- demo ---------------------------------------------------------------------------------
demo: lab-up
	ansible-playbook -i $(LAB_DIR)/hosts playbooks/02.etcd.yml
	ansible-playbook -i $(LAB_DIR)/hosts playbooks/demo_seed.yml
	$(MAKE) --no-print-directory status

status: venv collection
	ANSIBLE_STDOUT_CALLBACK=ansible.builtin.minimal ansible-playbook -i $(LAB_DIR)/hosts playbooks/status.yml

# --- tests --------------------------------------------------------------------------------
lint: venv collection
	ansible-lint --profile production --offline
	antsibull-changelog lint
	scripts/check-build.sh

unit: venv collection
	pytest tests/unit

integration: venv collection
	scripts/fetch-etcd.sh 3.4.23 && scripts/fetch-etcd.sh 3.5.16
	pytest tests/integration

sanity: venv
	scripts/sanity.sh

molecule: lab-up
	scripts/fetch-etcd.sh 3.5.30  # the faults scenario upgrades its lab to it
	LANES=$(LANES) scripts/molecule-lanes.sh $(SCENARIOS)

molecule-%: lab-up
	molecule test -s $*

test: lint unit integration sanity
	$(MAKE) molecule

# --- packaging ----------------------------------------------------------------------------
build: venv
	ansible-galaxy collection build --force --output-path .cache/build

changelog: venv
	antsibull-changelog lint && antsibull-changelog release --is-collection yes

clean: lab-down
	rm -rf .cache/build .cache/collections .pytest_cache
