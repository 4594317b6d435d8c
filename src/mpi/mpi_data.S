/* mpi/mpi_data: embeds data/mpi/nicknames.csv and data/mpi/match-config.json into the library
   (read-only data). The absolute paths are set by src/mpi/CMakeLists.txt. */
        .section .rodata
        .global ucr_mpi_nicknames_csv
        .type ucr_mpi_nicknames_csv, @object
        .balign 16
ucr_mpi_nicknames_csv:
        .incbin UCR_MPI_NICKNAMES_CSV
ucr_mpi_nicknames_csv_end:
        .byte 0
        .size ucr_mpi_nicknames_csv, . - ucr_mpi_nicknames_csv

        .global ucr_mpi_nicknames_csv_size
        .type ucr_mpi_nicknames_csv_size, @object
        .balign 8
ucr_mpi_nicknames_csv_size:
        .quad ucr_mpi_nicknames_csv_end - ucr_mpi_nicknames_csv
        .size ucr_mpi_nicknames_csv_size, 8

        .global ucr_mpi_match_config_json
        .type ucr_mpi_match_config_json, @object
        .balign 16
ucr_mpi_match_config_json:
        .incbin UCR_MPI_MATCH_CONFIG_JSON
ucr_mpi_match_config_json_end:
        .byte 0
        .size ucr_mpi_match_config_json, . - ucr_mpi_match_config_json

        .global ucr_mpi_match_config_json_size
        .type ucr_mpi_match_config_json_size, @object
        .balign 8
ucr_mpi_match_config_json_size:
        .quad ucr_mpi_match_config_json_end - ucr_mpi_match_config_json
        .size ucr_mpi_match_config_json_size, 8

        .section .note.GNU-stack,"",@progbits
